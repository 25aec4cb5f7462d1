using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: TestCollectionOrderer("DataSpoc.Pipe.Tests.Support.LongRunningFirst", "DataSpoc.Pipe.Tests")]

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>A test class whose tests run for a minute or more in all: it starts before the others (see <see cref="LongRunningFirst"/>).</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class LongRunningAttribute : Attribute;

/// <summary>
/// Starts the collections of <see cref="LongRunningAttribute"/> classes first, the rest in xunit's own order. xunit runs
/// a few tests at a time (xunit.runner.json) and would start a class anywhere in that order: a two-minute test started
/// near the end kept the whole run waiting for it alone, while the short classes, started first, fill in around it.
/// </summary>
public sealed class LongRunningFirst : ITestCollectionOrderer
{
    /// <summary>How xunit names the collection of a test class without a [Collection] (followed by the class's full name).</summary>
    private const string PerClassPrefix = "Test collection for ";

    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        new DefaultTestCollectionOrderer().OrderTestCollections(testCollections).OrderBy(c => IsLongRunning(c) ? 0 : 1);

    private static bool IsLongRunning(ITestCollection collection)
    {
        var type = collection.CollectionDefinition?.ToRuntimeType()
            ?? (collection.DisplayName.StartsWith(PerClassPrefix, StringComparison.Ordinal)
                ? typeof(LongRunningFirst).Assembly.GetType(collection.DisplayName[PerClassPrefix.Length..])
                : null);
        return type?.IsDefined(typeof(LongRunningAttribute), inherit: false) == true;
    }
}

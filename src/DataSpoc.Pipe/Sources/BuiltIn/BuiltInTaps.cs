using System.Diagnostics.CodeAnalysis;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>The taps shipped inside the binary, by the name a pipeline's <c>source.tap</c> uses.</summary>
public static class BuiltInTaps
{
    private static readonly Dictionary<string, Func<ObjectStoreFactory, IBuiltInTap>> Factories = new(StringComparer.Ordinal)
    {
        ["csv"] = stores => new CsvTap(stores),
        ["google-sheets-public"] = _ => new GoogleSheetsPublicTap(),
        ["jsonl"] = stores => new JsonlTap(stores),
        ["parquet"] = stores => new ParquetTap(stores),
        ["postgres"] = _ => new PostgresTap(),
    };

    /// <summary>Every built-in tap name, sorted.</summary>
    public static IReadOnlyList<string> Names { get; } = Factories.Keys.Order(StringComparer.Ordinal).ToArray();

    /// <summary>The built-in tap called <paramref name="name"/>, reading files from local disk only.</summary>
    public static bool TryGet(string name, [NotNullWhen(true)] out IBuiltInTap? tap) => TryGet(name, new ObjectStoreFactory(), out tap);

    /// <summary>The built-in tap called <paramref name="name"/>; file taps open bucket URIs (s3://, gs://, az://) through <paramref name="stores"/>.</summary>
    public static bool TryGet(string name, ObjectStoreFactory stores, [NotNullWhen(true)] out IBuiltInTap? tap)
    {
        if (Factories.TryGetValue(name, out var create))
        {
            tap = create(stores);
            return true;
        }
        tap = null;
        return false;
    }
}

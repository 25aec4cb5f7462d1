using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;
using Xunit;

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>
/// Runs one C# source both ways, typed rows into the engine's sink and the same calls printed as Singer JSON for the
/// reader, each into a lake of its own, and asserts the lakes are the same: the run log (status, error, counts, dropped
/// properties, rejections), the state, the manifest's tables, the data files' names, every table's column types and
/// rows read back by DuckDB, and the quarantined lines.
/// </summary>
internal static class TypedSourceDifferential
{
    /// <param name="printedPlace">
    /// For a code source: where its typed run names a record (<c>record 3</c> of its stream), the printed run names the
    /// line (<c>line 4</c>); the pair maps the printed run's words to the typed run's before its error and notices are compared.
    /// </param>
    public static async Task<(RunResult Typed, RunResult Printed)> AssertSameLakeAsync(Func<string, PipelineDefinition> pipelineIn, Func<ISource> source,
        (string Line, string Record)? printedPlace = null)
    {
        using var typedLake = new TempLake();
        using var printedLake = new TempLake();
        var typed = await RunAsync(pipelineIn(typedLake.Bucket), source(), typedSources: true);
        var printed = await RunAsync(pipelineIn(printedLake.Bucket), source(), typedSources: false);
        var pipeline = pipelineIn(typedLake.Bucket).Name;

        Assert.Equal(printed.Log.Status, typed.Log.Status);
        string? AsTyped(string? text) => printedPlace is { } p ? text?.Replace(p.Line, p.Record, StringComparison.Ordinal) : text;
        Assert.Equal(AsTyped(printed.Log.Error), typed.Log.Error);
        Assert.Equal(printed.Log.FailedStep, typed.Log.FailedStep);
        // A built-in tap's notice of date-times cut to the microsecond names the file it read them from, which its printed
        // lines do not carry (and the in-process tap's own notices have no stderr to go to: the csv fixture's 7-digit
        // date-time): left out on both sides for a built-in tap, its cut values compared with the lake below. A code
        // source's are counted alike both ways (its typed strings as the printed text), so compared.
        // A run also reports the private temp folders of killed runs it cleaned up: the kill tests running beside this
        // one leave them (the temp root is the user's, shared by every process), so either run may find one.
        var builtIn = source() is BuiltInSource;
        bool Compared(string n) => (!builtIn || !n.EndsWith(DataSpoc.Pipe.Parquet.TemporalParser.CutToMicrosecondNotice(1), StringComparison.Ordinal))
            && !n.StartsWith("removed the private temp folder of a killed run", StringComparison.Ordinal)
            && !n.StartsWith("removed the scratch folder of a killed process", StringComparison.Ordinal);
        Assert.Equal(printed.Log.Notices.Where(Compared).Select(AsTyped), typed.Log.Notices.Where(Compared));
        Assert.Equal(printed.Log.TotalRecords, typed.Log.TotalRecords);
        Assert.Equal(printed.Log.StateCommitted, typed.Log.StateCommitted);
        Assert.Equal(Json(printed.Log.Streams), Json(typed.Log.Streams));
        if (printed.Succeeded) Assert.Equal(printed.Log.Tap.ExitCode, typed.Log.Tap.ExitCode);
        Assert.Equal(printedLake.State(pipeline)?.ToJsonString(), typedLake.State(pipeline)?.ToJsonString());

        var printedKeys = Normalized(printedLake.Keys(), printed.Log.RunId);
        var typedKeys = Normalized(typedLake.Keys(), typed.Log.RunId);
        Assert.Equal(DataKeys(printedKeys), DataKeys(typedKeys));
        foreach (var (key, normalized) in Quarantined(printedKeys))
            Assert.Equal(File.ReadAllText(Path.Combine(printedLake.Root, key)),
                File.ReadAllText(Path.Combine(typedLake.Root, typedKeys.Single(k => k.Normalized == normalized).Key)));
        Assert.Equal(Quarantined(printedKeys).Count, Quarantined(typedKeys).Count);
        if (!printed.Succeeded) return (typed, printed);

        var printedManifest = printedLake.Manifest();
        var typedManifest = typedLake.Manifest();
        Assert.Equal(printedManifest.Tables.Keys, typedManifest.Tables.Keys);
        foreach (var (name, expected) in printedManifest.Tables)
        {
            var actual = typedManifest.Tables[name];
            Assert.Equal(expected.Columns, actual.Columns);
            Assert.Equal(expected.KeyProperties, actual.KeyProperties);
            // A version is the source's (postgres: the time of its sync), so only whether one was activated is compared.
            Assert.Equal(expected.TableVersion is null, actual.TableVersion is null);
            Assert.Equal(expected.WriteMode, actual.WriteMode);
            Assert.Equal(expected.Partitioning, actual.Partitioning);
            Assert.Equal(expected.RowCount, actual.RowCount);
            Assert.Equal(expected.Stats.Files, actual.Stats.Files);
        }
        foreach (var folder in TableFolders(printedKeys))
        {
            var query = $"FROM read_parquet('{{lake}}/{folder}/**/*.parquet', hive_partitioning = false)";
            Assert.Equal(printedLake.Query($"SELECT column_name, column_type FROM (DESCRIBE SELECT * {query})"),
                typedLake.Query($"SELECT column_name, column_type FROM (DESCRIBE SELECT * {query})"));
            // As text: nested values (structs, lists) read back as objects otherwise.
            var expectedRows = printedLake.Query($"SELECT COLUMNS(*)::VARCHAR {query} ORDER BY ALL");
            Assert.NotEmpty(expectedRows);
            Assert.Equal(expectedRows, typedLake.Query($"SELECT COLUMNS(*)::VARCHAR {query} ORDER BY ALL"));
        }
        return (typed, printed);
    }

    private static Task<RunResult> RunAsync(PipelineDefinition pipeline, ISource source, bool typedSources) =>
        new PipelineRunner(new ObjectStoreFactory()) { TypedSources = typedSources }
            .RunAsync(pipeline, new RunOptions { Source = source }, CancellationToken.None);

    private static string Json<T>(T value) => Encoding.UTF8.GetString(LakeJson.Serialize(value));

    private static List<(string Key, string Normalized)> Normalized(List<string> keys, string runId) =>
        [.. keys.Select(k => (k, k.Replace(runId, "RUN", StringComparison.Ordinal)))];

    private static List<string> DataKeys(List<(string Key, string Normalized)> keys) =>
        [.. keys.Where(k => k.Key.EndsWith(".parquet", StringComparison.Ordinal) && !k.Key.StartsWith(".dataspoc", StringComparison.Ordinal)).Select(k => k.Normalized)];

    private static List<(string Key, string Normalized)> Quarantined(List<(string Key, string Normalized)> keys) =>
        [.. keys.Where(k => k.Key.Contains("/quarantine/", StringComparison.Ordinal) || k.Key.StartsWith(".dataspoc/quarantine", StringComparison.Ordinal))];

    /// <summary>Table folders (<c>raw/source/table</c>): a data file's folder, above its <c>dt=</c> partition if any.</summary>
    private static IEnumerable<string> TableFolders(List<(string Key, string Normalized)> keys) =>
        DataKeys(keys).Select(k => Path.GetDirectoryName(k)!.Replace('\\', '/'))
            .Select(d => Path.GetFileName(d).StartsWith("dt=", StringComparison.Ordinal) ? Path.GetDirectoryName(d)!.Replace('\\', '/') : d)
            .Distinct().Order(StringComparer.Ordinal);
}

using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Failures;

/// <summary>The promises a lake keeps whatever happened to the last run, checked with DuckDB and plain file reads.</summary>
internal static class LakeChecks
{
    /// <summary>After a crash: visible Parquet is complete, metadata parses, state never covers rows the lake lacks.</summary>
    public static List<string> AfterCrash(TempLake lake, string pipeline)
    {
        var problems = new List<string>();
        var keys = lake.Keys();
        // Every name a *.parquet glob matches must be a whole Parquet file (DuckDB reads each footer; one bad file fails the query).
        if (keys.Any(k => k.EndsWith(".parquet", StringComparison.Ordinal)))
        {
            try { lake.Query("select count(*) from read_parquet('{lake}/**/*.parquet', union_by_name = true)"); }
            catch (Exception e) { problems.Add($"a file matching **/*.parquet is not a complete Parquet file: {e.Message}"); }
        }
        foreach (var key in new[] { LakePaths.ManifestKey, LakePaths.StateKey(pipeline), LakeCommitter.JournalKey(pipeline) })
        {
            var path = Path.Combine(lake.Root, key);
            if (!File.Exists(path)) continue;
            try { JsonNode.Parse(File.ReadAllBytes(path)); }
            catch (JsonException e) { problems.Add($"{key} does not parse: {e.Message}"); }
        }
        var bookmark = (long?)lake.State(pipeline)?["bookmark"] ?? 0;
        if (bookmark > 0)
        {
            var (rows, distinct) = Count(lake, $"id <= {bookmark}");
            if (distinct != bookmark || rows != bookmark)
                problems.Add($"state says bookmark {bookmark} but the lake holds {distinct} distinct ids (of {rows} rows) <= {bookmark}");
        }
        var journalPending = File.Exists(Path.Combine(lake.Root, LakeCommitter.JournalKey(pipeline)));
        if (!journalPending && File.Exists(Path.Combine(lake.Root, LakePaths.ManifestKey)))
        {
            // No commit in flight: the manifest's count is exactly what a reader sees.
            var manifestRows = lake.Manifest().Tables.TryGetValue("test/items", out var t) ? t.RowCount : 0;
            var (rows, _) = Count(lake, "true");
            if (rows != manifestRows) problems.Add($"no commit is pending, yet the manifest counts {manifestRows} rows and the lake holds {rows}");
        }
        return problems;
    }

    /// <summary>After a run that was not killed: exactly ids 1..maxId once each, state at maxId, nothing temporary left.</summary>
    public static List<string> AfterCleanRun(TempLake lake, string pipeline, long maxId)
    {
        var problems = AfterCrash(lake, pipeline);
        var row = lake.Query("select count(*), count(distinct id), min(id), max(id) from read_parquet('{lake}/raw/test/items/*/*.parquet')")[0];
        if (row[0] != maxId.ToString() || row[1] != maxId.ToString() || row[2] != "1" || row[3] != maxId.ToString())
            problems.Add($"expected ids 1..{maxId} once each, found count={row[0]} distinct={row[1]} min={row[2]} max={row[3]}");
        if ((long?)lake.State(pipeline)?["bookmark"] != maxId) problems.Add($"state is {lake.State(pipeline)?.ToJsonString()}, expected bookmark {maxId}");
        foreach (var key in lake.Keys())
        {
            // The manifest is shared by every pipeline of the bucket: its temp files are removed only once 10 minutes old.
            if ((LakePaths.IsTempName(key) && !LakePaths.IsTempOf(key, LakePaths.ManifestKey)) || key.EndsWith(".part", StringComparison.Ordinal))
                problems.Add($"temp file {key} is still there after a successful run");
            if (key == LakePaths.LockKey(pipeline)) problems.Add("the lock is still held after the run");
            if (key == LakeCommitter.JournalKey(pipeline)) problems.Add("the commit journal is still there after the run");
        }
        foreach (var dir in new[]
        {
            Path.Combine(lake.Root, ".dataspoc", "tmp", pipeline),
            PipelineRunner.LocalTempFolder("spool", BucketUri.Parse(lake.Bucket), pipeline),
            PipelineRunner.LocalTempFolder("private", BucketUri.Parse(lake.Bucket), pipeline),
        })
        {
            if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
                problems.Add($"{dir} still holds {string.Join(", ", Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName))}");
        }
        return problems;
    }

    private static (long Rows, long Distinct) Count(TempLake lake, string where)
    {
        if (!lake.Keys().Any(k => k.StartsWith("raw/test/items/", StringComparison.Ordinal) && k.EndsWith(".parquet", StringComparison.Ordinal))) return (0, 0);
        var r = lake.Query($"select count(*), count(distinct id) from read_parquet('{{lake}}/raw/test/items/*/*.parquet') where {where}")[0];
        return (long.Parse(r[0]!), long.Parse(r[1]!));
    }
}

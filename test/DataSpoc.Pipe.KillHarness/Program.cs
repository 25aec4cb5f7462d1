using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.KillHarness;

// Usage: DataSpoc.Pipe.KillHarness <run.json>
// run.json: {"name", "bucket", "tap", "config": {...}, "incremental": true, "full": false,
//            "batch_rows": 2000, "max_file_rows": 10000, "secrets": ["..."], "table_format": ["iceberg", "delta"],
//            "mode": "run" | "compact",   ("compact": maintain --compact of the pipeline's tables instead of a run)
//            "partition_by": "none", "write_mode": "merge", "merge_order_by": "version",
//            "pipeline_file": "<path>"}  (optional; the tap's capabilities are cached beside that path)
// Env: DSP_HARNESS_ANNOUNCE=1 wraps the file:// store so every write is announced on stdout ("at put <key>",
//      "done put <key>", "at putfile <key>", "done putfile <key>"), DSP_HARNESS_PAUSE_MS=N then sleeps N ms before
//      and after each write: a test can kill the process inside a chosen commit step. Exits 0 (success), 1 (failure), 2 (threw).
if (args.Length != 1)
{
    Console.Error.WriteLine("usage: DataSpoc.Pipe.KillHarness <run.json>");
    return 64;
}
var run = JsonNode.Parse(File.ReadAllText(args[0]))!.AsObject();
var pipeline = new PipelineDefinition
{
    Name = (string)run["name"]!,
    Source = new SourceDefinition
    {
        Tap = (string)run["tap"]!,
        InlineConfig = run["config"]?.DeepClone().AsObject(),
        Name = (string?)run["source_name"] ?? "test",
    },
    Destination = new DestinationDefinition
    {
        Bucket = (string)run["bucket"]!,
        TableFormat = run["table_format"]?.AsArray().Aggregate(TableFormats.Parquet, (all, f) => all | Enum.Parse<TableFormats>((string)f!, ignoreCase: true)) ?? TableFormats.Parquet,
        PartitionBy = (string?)run["partition_by"] ?? PartitionBySettings.ExtractionDate,
        WriteMode = WriteModes.Parse((string?)run["write_mode"]),
        Merge = new MergeSettings { OrderBy = (string?)run["merge_order_by"] },
    },
    Incremental = new IncrementalSettings { Enabled = (bool?)run["incremental"] ?? true },
    Secrets = run["secrets"]?.AsArray().Select(s => (string)s!).ToList() ?? [],
    // As if loaded from this file: what the tap says of itself is cached beside it, so a test that starts the harness
    // many times asks the tap --help/--about once, not at the start of every run it kills.
    FilePath = (string?)run["pipeline_file"],
};
var stores = new ObjectStoreFactory();
if (Environment.GetEnvironmentVariable("DSP_HARNESS_ANNOUNCE") == "1")
{
    var pause = TimeSpan.FromMilliseconds(int.Parse(Environment.GetEnvironmentVariable("DSP_HARNESS_PAUSE_MS") ?? "0", System.Globalization.CultureInfo.InvariantCulture));
    stores.Register("file", (uri, _) => new AnnouncingStore(new LocalObjectStore(uri), pause));
}
var runner = new PipelineRunner(stores)
{
    Limits = new WriteLimits
    {
        BatchRows = (int?)run["batch_rows"] ?? new WriteLimits().BatchRows,
        MaxFileRows = (long?)run["max_file_rows"] ?? new WriteLimits().MaxFileRows,
    },
};
try
{
    // The tests time "kill while extracting" from this line, not from process start (start-up time varies with load).
    Console.Out.WriteLine("running");
    Console.Out.Flush();
    if ((string?)run["mode"] == "compact")
    {
        await using var store = stores.Open(pipeline.Destination.Bucket);
        await using var runLock = await DataSpoc.Pipe.Lake.RunLock.AcquireAsync(store, pipeline.Name, "compact", TimeProvider.System, CancellationToken.None);
        await new DataSpoc.Pipe.Lake.LakeCommitter(store, TimeProvider.System).RecoverAsync(pipeline.Name, CancellationToken.None);
        var compacted = await new DataSpoc.Pipe.Tables.TableCompaction(store, TimeProvider.System).RunAsync(pipeline.Name, pipeline.Destination.Compression, 128L * 1024 * 1024,
            new DataSpoc.Pipe.Parquet.WriteLimits().WithFileLimitsOf(pipeline.Destination), CancellationToken.None, runLock);
        Console.Out.WriteLine("result " + JsonSerializer.Serialize(new { status = "success", error = (string?)null, rewritten = compacted.Sum(c => c.RewrittenFiles) }));
        return 0;
    }
    var result = await runner.RunAsync(pipeline, new RunOptions { Full = (bool?)run["full"] ?? false }, CancellationToken.None);
    Console.Out.WriteLine("result " + JsonSerializer.Serialize(new { status = result.Log.Status, error = result.Log.Error }));
    return result.Succeeded ? 0 : 1;
}
catch (Exception e)
{
    Console.Out.WriteLine("threw " + e.GetType().Name + ": " + e.Message);
    return 2;
}

using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Cloud.Tests.Runs;

/// <summary>
/// Iceberg and Delta tables on a real store: after each run the npm icebird reader (fetching from the server) returns
/// the source rows, the previous metadata file the previous rows; avsc validates the manifests; the Delta log's
/// files are read back by DuckDB.
/// </summary>
public abstract class TableFormatRunContract : IAsyncLifetime
{
    protected abstract StoreTarget Target { get; }
    /// <summary>The lake's bucket URI (a fresh prefix).</summary>
    protected abstract string Bucket { get; }
    /// <summary>What icebird's fetch shim needs to reach the server.</summary>
    protected abstract Dictionary<string, string> ReaderEnvironment { get; }

    public virtual Task InitializeAsync() => Task.CompletedTask;
    public Task DisposeAsync() => Task.CompletedTask;

    private PipelineDefinition Pipeline(int count) => CloudLake.Pipeline("orders", Bucket, count) with
    {
        Destination = new DestinationDefinition { Bucket = Bucket, TableFormat = TableFormats.Iceberg | TableFormats.Delta, StorageOptions = Target.StorageOptions },
    };

    private Task<Pipe.Runs.RunResult> RunAsync(PipelineDefinition p) =>
        new Pipe.Runs.PipelineRunner(Target.Factory(), new ShiftedTime(CloudLake.Now)).RunAsync(p, new Pipe.Runs.RunOptions(), CancellationToken.None);

    private static List<long> Ids(JsonObject read) => read["rows"]!.AsArray().Select(r => long.Parse(r!["id"]!.ToString())).Order().ToList();

    [Fact]
    public async Task Icebird_reads_every_run_and_time_travels_and_the_Delta_log_lists_the_same_files()
    {
        var table = Bucket + "/raw/shop/orders";
        var first = await RunAsync(Pipeline(5));
        Assert.True(first.Succeeded, first.Log.Error);
        Assert.Equal([1L, 2, 3, 4, 5], Ids(TableReaders.Icebird(table, environment: ReaderEnvironment)));
        var second = await RunAsync(Pipeline(8));
        Assert.True(second.Succeeded, second.Log.Error);
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), Ids(TableReaders.Icebird(table, environment: ReaderEnvironment)));
        Assert.Equal([1L, 2, 3, 4, 5], Ids(TableReaders.Icebird(table, "v1.metadata.json", ReaderEnvironment)));

        await using var store = Target.Factory().Open(Bucket, Target.StorageOptions);
        var keys = (await store.ListAsync("raw/shop/orders/", CancellationToken.None).ToListAsync()).Select(o => o.Key).ToList();
        var dir = Directory.CreateTempSubdirectory("avro-").FullName;
        try
        {
            var avro = new List<string>();
            foreach (var key in keys.Where(k => k.EndsWith(".avro", StringComparison.Ordinal)))
            {
                var local = Path.Combine(dir, Path.GetFileName(key));
                File.WriteAllBytes(local, (await store.GetAsync(key, CancellationToken.None))!.Content.ToArray());
                avro.Add(local);
            }
            var checks = TableReaders.AvroCheck(avro);
            Assert.Equal(4, checks.Count);
            foreach (var check in checks.Select(c => c!)) Assert.True(check["problems"]!.AsArray().Count == 0, check.ToJsonString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        var live = await DeltaLiveFilesAsync(store);
        Assert.Equal(2, live.Count);
        Assert.Equal(CloudLake.ExpectedOrders(1, 8), await OrdersAsync(live));
    }

    [Fact]
    public async Task A_Delta_table_written_twice_reads_back_every_row_from_its_log()
    {
        foreach (var count in new[] { 5, 8 })
        {
            var pipeline = Pipeline(count);
            var run = await RunAsync(pipeline with { Destination = pipeline.Destination with { TableFormat = TableFormats.Delta } });
            Assert.True(run.Succeeded, run.Log.Error);
        }
        await using var store = Target.Factory().Open(Bucket, Target.StorageOptions);
        var log = (await store.ListAsync("raw/shop/orders/_delta_log/", CancellationToken.None).ToListAsync()).Select(o => o.Key).Where(k => k.EndsWith(".json", StringComparison.Ordinal));
        Assert.Equal(["raw/shop/orders/_delta_log/00000000000000000000.json", "raw/shop/orders/_delta_log/00000000000000000001.json"], log.Order(StringComparer.Ordinal));
        var live = await DeltaLiveFilesAsync(store);
        Assert.Equal(2, live.Count);
        Assert.Equal(CloudLake.ExpectedOrders(1, 8), await OrdersAsync(live));
    }

    /// <summary>The data files the orders table's Delta log leaves live: its entries' adds less their removes, in version order.</summary>
    private static async Task<HashSet<string>> DeltaLiveFilesAsync(Pipe.Storage.IObjectStore store)
    {
        var live = new HashSet<string>();
        var log = (await store.ListAsync("raw/shop/orders/_delta_log/", CancellationToken.None).ToListAsync()).Select(o => o.Key).Where(k => k.EndsWith(".json", StringComparison.Ordinal));
        foreach (var key in log.Order(StringComparer.Ordinal))
            foreach (var line in System.Text.Encoding.UTF8.GetString((await store.GetAsync(key, CancellationToken.None))!.Content.Span).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var action = JsonNode.Parse(line)!;
                if (action["add"] is { } add) live.Add("raw/shop/orders/" + Uri.UnescapeDataString(add["path"]!.GetValue<string>()));
                if (action["remove"] is { } remove) live.Remove("raw/shop/orders/" + Uri.UnescapeDataString(remove["path"]!.GetValue<string>()));
            }
        return live;
    }

    [Fact]
    public async Task Compaction_is_one_replace_snapshot_and_one_optimize_entry_with_the_same_rows()
    {
        var table = Bucket + "/raw/shop/orders";
        foreach (var count in new[] { 3, 6, 10 })
            Assert.True((await RunAsync(Pipeline(count))).Succeeded);
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), Ids(TableReaders.Icebird(table, environment: ReaderEnvironment)));

        await using (var store = Target.Factory().Open(Bucket, Target.StorageOptions))
        {
            var time = new ShiftedTime(CloudLake.Now);
            await using var runLock = await Pipe.Lake.RunLock.AcquireAsync(store, "orders", "compact-test", time, CancellationToken.None);
            var result = Assert.Single(await new Pipe.Tables.TableCompaction(store, time).RunAsync("orders", Compression.Zstd, 128L * 1024 * 1024, new DataSpoc.Pipe.Parquet.WriteLimits(), CancellationToken.None));
            Assert.Equal((3, 1, 10L), (result.RewrittenFiles, result.WrittenFiles, result.Rows));
        }
        var after = TableReaders.Icebird(table, environment: ReaderEnvironment);
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), Ids(after));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), Ids(TableReaders.Icebird(table, "v3.metadata.json", ReaderEnvironment)));

        await using var reader = Target.Factory().Open(Bucket, Target.StorageOptions);
        var live = new HashSet<string>();
        var log = (await reader.ListAsync("raw/shop/orders/_delta_log/", CancellationToken.None).ToListAsync()).Select(o => o.Key).Where(k => k.EndsWith(".json", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(4, log.Count);
        foreach (var key in log)
            foreach (var line in System.Text.Encoding.UTF8.GetString((await reader.GetAsync(key, CancellationToken.None))!.Content.Span).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var action = JsonNode.Parse(line)!;
                if (action["add"] is { } add) live.Add("raw/shop/orders/" + Uri.UnescapeDataString(add["path"]!.GetValue<string>()));
                if (action["remove"] is { } remove) Assert.True(live.Remove("raw/shop/orders/" + Uri.UnescapeDataString(remove["path"]!.GetValue<string>())));
            }
        Assert.Single(live);
        Assert.Equal(CloudLake.ExpectedOrders(1, 10), await OrdersAsync(live));
    }

    /// <summary>DuckDB's rows of the given keys of this lake (downloaded through the store).</summary>
    private async Task<List<string>> OrdersAsync(IEnumerable<string> keys)
    {
        await using var lake = new CloudLake(Target, Bucket);
        return await lake.OrdersAsync(keys);
    }
}

[Collection(S3rverCollection.Name)]
public sealed class S3TableFormatRunTests(CloudServers servers) : TableFormatRunContract
{
    private readonly string _prefix = StoreTarget.NewPrefix();
    protected override StoreTarget Target { get; } = new S3Target(servers);
    protected override string Bucket => Target.Uri(_prefix);
    protected override Dictionary<string, string> ReaderEnvironment => new() { ["DSP_S3_ENDPOINT"] = servers.S3.Endpoint };
}

[Collection(AzuriteCollection.Name)]
public sealed class AzureTableFormatRunTests(CloudServers servers) : TableFormatRunContract
{
    /// <summary>A container with anonymous blob reads, so the node reader needs no Azure signing code.</summary>
    private const string PublicContainer = "tables";
    private readonly string _prefix = StoreTarget.NewPrefix();
    protected override StoreTarget Target { get; } = new AzureTarget(servers);
    protected override string Bucket => $"az://{PublicContainer}/{_prefix}";
    protected override Dictionary<string, string> ReaderEnvironment => new() { ["DSP_AZURE_BLOB_ENDPOINT"] = servers.Azure.BlobEndpoint };

    public override async Task InitializeAsync() =>
        await new BlobContainerClient(servers.Azure.ConnectionString(), PublicContainer).CreateIfNotExistsAsync(PublicAccessType.Blob);
}

public sealed class LocalTableFormatRunTests : TableFormatRunContract
{
    private readonly string _prefix = StoreTarget.NewPrefix();
    protected override StoreTarget Target { get; } = new LocalTarget();
    protected override string Bucket => Target.Uri(_prefix);
    protected override Dictionary<string, string> ReaderEnvironment => [];
}

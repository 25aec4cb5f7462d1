using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using DataSpoc.Pipe.Cloud.Tests.Servers;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Tables;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Cloud.Tests.Runs;

/// <summary>
/// A conditional write whose response is lost: the server applied it, the SDK retries by itself and the retry is refused
/// (409/412) because the first attempt succeeded. Azurite enforces conditional writes; a TCP proxy between the run and
/// Azurite forwards the chosen request and resets the connection instead of passing its answer on. The run must
/// recognise its own write (the object holds exactly its bytes) instead of reporting another writer.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class AzureLostResponseTests(CloudServers servers) : IAsyncLifetime
{
    /// <summary>A container with anonymous blob reads, so icebird needs no Azure signing code (as AzureTableFormatRunTests).</summary>
    private const string PublicContainer = "tables";
    private readonly StoreTarget _target = new AzureTarget(servers);

    public async Task InitializeAsync() =>
        await new BlobContainerClient(servers.Azure.ConnectionString(), PublicContainer).CreateIfNotExistsAsync(PublicAccessType.Blob);

    public Task DisposeAsync() => Task.CompletedTask;

    private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token;

    private Task<RunResult> RunAsync(PipelineDefinition pipeline, int port, TimeSpan? lease = null) =>
        new PipelineRunner(_target.Factory(port), new ShiftedTime(CloudLake.Now)) { LockLease = lease ?? RunLock.DefaultLease }
            .RunAsync(pipeline, new RunOptions(), Timeout());

    [Fact]
    public async Task An_iceberg_commit_whose_metadata_put_answer_is_lost_lands_and_the_table_and_the_next_run_read_it()
    {
        var bucket = $"az://{PublicContainer}/{StoreTarget.NewPrefix()}";
        await using var lake = new CloudLake(_target, bucket);
        await using var proxy = new TcpFaultProxy(_target.ServerPort);
        PipelineDefinition Pipeline(int count) => lake.Pipeline("orders", count) with
        {
            Destination = new DestinationDefinition { Bucket = bucket, TableFormat = TableFormats.Iceberg, StorageOptions = _target.StorageOptions },
        };
        Assert.True((await RunAsync(Pipeline(3), proxy.Port)).Succeeded);

        proxy.LoseResponseTo("PUT", "/metadata/v2.metadata.json");
        var second = await RunAsync(Pipeline(5), proxy.Port);
        Assert.True(second.Succeeded, second.Log.Error);
        Assert.Single(proxy.LostResponses);

        var table = bucket + "/raw/shop/orders";
        var environment = new Dictionary<string, string> { ["DSP_AZURE_BLOB_ENDPOINT"] = servers.Azure.BlobEndpoint };
        Assert.Equal(Enumerable.Range(1, 5).Select(i => (long)i), Ids(TableReaders.Icebird(table, environment: environment)));
        var hint = await lake.Store.GetAsync(IcebergTable.VersionHintKey("raw/shop/orders/"), CancellationToken.None);
        Assert.Equal("2", System.Text.Encoding.UTF8.GetString(hint!.Content.Span).Trim());

        var third = await RunAsync(Pipeline(7), proxy.Port);
        Assert.True(third.Succeeded, third.Log.Error);
        Assert.Equal(Enumerable.Range(1, 7).Select(i => (long)i), Ids(TableReaders.Icebird(table, environment: environment)));
    }

    [Fact]
    public async Task A_data_file_upload_whose_answer_is_lost_lands_and_the_run_succeeds()
    {
        await using var lake = new CloudLake(_target);
        await using var proxy = new TcpFaultProxy(_target.ServerPort);
        proxy.LoseResponseTo("PUT", ".parquet");
        var run = await RunAsync(lake.Pipeline("orders", count: 4), proxy.Port);
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Single(proxy.LostResponses);
        var files = (await lake.KeysAsync()).Where(k => k.EndsWith(".parquet", StringComparison.Ordinal)).ToList();
        Assert.Equal(CloudLake.ExpectedOrders(1, 4), await lake.OrdersAsync(files));
    }

    [Fact]
    public async Task A_Delta_log_entry_whose_answer_is_lost_lands_once_and_the_run_succeeds()
    {
        var bucket = $"az://{PublicContainer}/{StoreTarget.NewPrefix()}";
        await using var lake = new CloudLake(_target, bucket);
        await using var proxy = new TcpFaultProxy(_target.ServerPort);
        proxy.LoseResponseTo("PUT", "/_delta_log/00000000000000000000.json");
        var run = await RunAsync(lake.Pipeline("orders", count: 4) with
        {
            Destination = new DestinationDefinition { Bucket = bucket, TableFormat = TableFormats.Delta, StorageOptions = _target.StorageOptions },
        }, proxy.Port);
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Single(proxy.LostResponses);
        Assert.Equal(["raw/shop/orders/_delta_log/00000000000000000000.json"],
            (await lake.KeysAsync()).Where(k => k.Contains("/_delta_log/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_lock_put_whose_answer_is_lost_starts_the_run()
    {
        await using var lake = new CloudLake(_target);
        await using var proxy = new TcpFaultProxy(_target.ServerPort);
        proxy.LoseResponseTo("PUT", "/locks/orders.lock");
        var run = await RunAsync(lake.Pipeline("orders", count: 3), proxy.Port);
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Single(proxy.LostResponses);
        Assert.Equal(3L, (await lake.ManifestAsync()).Tables.Values.Single().RowCount);
        Assert.DoesNotContain(await lake.KeysAsync(), k => k.StartsWith(".dataspoc/locks/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_lock_renewal_whose_answer_is_lost_keeps_the_lock()
    {
        await using var lake = new CloudLake(_target);
        await using var proxy = new TcpFaultProxy(_target.ServerPort);
        // A 3 s lease is renewed every 600 ms; the tap sleeps 3 s before it prints anything. (Not shorter: a renewal may
        // take only what is left of the lease, and the lost answer's retry on a loaded machine can take a second.)
        var running = RunAsync(lake.Pipeline("orders", count: 3, sleep: 3), proxy.Port, TimeSpan.FromSeconds(3));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await lake.Store.GetAsync(LakePaths.LockKey("orders"), CancellationToken.None) is null && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        proxy.LoseResponseTo("PUT", "/locks/orders.lock");
        var run = await running;
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Single(proxy.LostResponses);
        Assert.Equal(3L, (await lake.ManifestAsync()).Tables.Values.Single().RowCount);
    }

    private static List<long> Ids(System.Text.Json.Nodes.JsonObject read) =>
        read["rows"]!.AsArray().Select(r => long.Parse(r!["id"]!.ToString(), System.Globalization.CultureInfo.InvariantCulture)).Order().ToList();
}

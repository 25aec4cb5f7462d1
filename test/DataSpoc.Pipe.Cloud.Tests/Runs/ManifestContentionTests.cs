using System.Diagnostics;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Cloud.Tests.Runs;

/// <summary>
/// Many pipelines sharing one bucket all commit to one manifest. N committers, each with its own store client (as N
/// pods would have), commit at once to a manifest that already lists 200 tables; every commit must land (no lost
/// update), and the test prints the figures of docs/scaling.md: wall time, commits per second, per-commit latency and
/// conflicts (conditional writes that lost the race and were retried).
/// </summary>
public sealed class ManifestContentionTests(CloudServers servers, ITestOutputHelper output) : IClassFixture<CloudServers>
{
    private const int CommitsEach = 2;
    private const int ExistingTables = 200;

    public static TheoryData<string, int> Cases => new()
    {
        { "file", 1 }, { "file", 8 }, { "file", 32 },
        { "az", 1 }, { "az", 8 }, { "az", 32 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Concurrent_committers_never_lose_an_update_and_report_their_latency(string kind, int committers)
    {
        StoreTarget target = kind == "file" ? new LocalTarget() : new AzureTarget(servers);
        var prefix = StoreTarget.NewPrefix();
        await using (var seed = target.Open(prefix))
        {
            await new ManifestStore(seed, TimeProvider.System).UpdateAsync(m =>
            {
                for (var i = 0; i < ExistingTables; i++) m.Tables[$"raw/src/existing_{i:D3}"] = Table($"existing_{i:D3}");
            }, CancellationToken.None);
        }

        var latencies = new List<double>[committers];
        var conflicts = new int[committers];
        var start = new TaskCompletionSource();
        var wall = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, committers).Select(async c =>
        {
            await using var store = new ConflictCountingStore(target.Open(prefix));
            var manifests = new ManifestStore(store, TimeProvider.System);
            latencies[c] = [];
            await start.Task;
            for (var k = 0; k < CommitsEach; k++)
            {
                var one = Stopwatch.StartNew();
                await manifests.UpdateAsync(m =>
                {
                    var key = $"raw/src/pipeline_{c:D2}";
                    if (!m.Tables.TryGetValue(key, out var table)) m.Tables[key] = table = Table($"pipeline_{c:D2}");
                    table.Stats.Extractions++;
                    table.RowCount += 1000;
                }, CancellationToken.None);
                latencies[c].Add(one.Elapsed.TotalMilliseconds);
            }
            conflicts[c] = store.Conflicts;
        }).ToList();
        wall.Restart();
        start.SetResult();
        await Task.WhenAll(tasks);
        var elapsed = wall.Elapsed;

        await using var reader = target.Open(prefix);
        var final = await new ManifestStore(reader, TimeProvider.System).ReadAsync(CancellationToken.None);
        Assert.Equal(ExistingTables + committers, final.Tables.Count);
        for (var c = 0; c < committers; c++)
            Assert.Equal((CommitsEach, CommitsEach * 1000L), (final.Tables[$"raw/src/pipeline_{c:D2}"].Stats.Extractions, final.Tables[$"raw/src/pipeline_{c:D2}"].RowCount));

        var all = latencies.SelectMany(l => l).Order().ToList();
        var total = committers * CommitsEach;
        output.WriteLine(
            $"contention {kind} committers={committers} commits={total} wall={elapsed.TotalSeconds:F2}s rate={total / elapsed.TotalSeconds:F1}/s " +
            $"latency p50={Percentile(all, 0.50):F0}ms p95={Percentile(all, 0.95):F0}ms max={all[^1]:F0}ms " +
            $"conflicts={conflicts.Sum()} ({(double)conflicts.Sum() / total:F2} per commit) manifest={ExistingTables + committers} tables");
    }

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    private static ManifestTable Table(string name) => new()
    {
        Source = "src", Table = name, Pipeline = name, Location = $"raw/src/{name}/", Partitioning = ["_extraction_date"],
        Columns = [new ManifestColumn("id", "int64", false), new ManifestColumn("updated_at", "timestamp", true), new ManifestColumn("name", "string", true)],
    };

    /// <summary>Counts conditional writes that lost the race (the manifest changed since it was read).</summary>
    private sealed class ConflictCountingStore(IObjectStore inner) : IObjectStore
    {
        public int Conflicts { get; private set; }
        public BucketUri Bucket => inner.Bucket;
        public Task PutFileAsync(string key, string localPath, CancellationToken cancellationToken) => inner.PutFileAsync(key, localPath, cancellationToken);

        public async Task<bool> PutAsync(string key, ReadOnlyMemory<byte> content, WriteCondition condition, CancellationToken cancellationToken)
        {
            var written = await inner.PutAsync(key, content, condition, cancellationToken);
            if (!written) Conflicts++;
            return written;
        }

        public Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);
        public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken) => inner.OpenReadAsync(key, cancellationToken);
        public IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);
        public Task DeleteAsync(string key, CancellationToken cancellationToken) => inner.DeleteAsync(key, cancellationToken);
        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}

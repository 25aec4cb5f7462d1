using System.Runtime.CompilerServices;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Merge;

/// <summary>
/// Two pipelines merging into one plain Parquet table at the same time: both plan against the same base file, then
/// commit. The runs are made to meet after planning (each waits, at its first journal write, for the other to get
/// there), so the race the two would otherwise win only sometimes happens every time.
/// </summary>
public sealed class MergeConcurrencyTests : IDisposable
{
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    private const string Schema = """{"type":"SCHEMA","stream":"k","schema":{"type":"object","properties":{"id":{"type":"integer"},"v":{"type":["null","string"]}}},"key_properties":["id"]}""";

    private static string Record(int id, string v) => $$$"""{"type":"RECORD","stream":"k","record":{"id":{{{id}}},"v":"{{{v}}}"}}""";

    private PipelineDefinition Pipeline(string name, string file) => _lake.Pipeline(name, file, p => p with
    {
        Destination = p.Destination with { PartitionBy = PartitionBySettings.None, WriteMode = WriteMode.Merge },
    });

    [Fact]
    public async Task Two_merges_of_one_table_at_once_keep_one_row_per_key_and_an_exact_row_count()
    {
        var baseLoad = _lake.WriteSinger("base.jsonl", [Schema, .. Enumerable.Range(0, 1000).Select(i => Record(i, "base"))]);
        Assert.True((await TempLake.RunAsync(Pipeline("cA", baseLoad))).Succeeded);
        var evens = _lake.WriteSinger("evens.jsonl", [Schema, .. Enumerable.Range(0, 500).Select(i => Record(2 * i, "cA"))]);
        var odds = _lake.WriteSinger("odds.jsonl", [Schema, .. Enumerable.Range(0, 500).Select(i => Record(2 * i + 1, "cB"))]);

        var meeting = new JournalMeeting(2);
        var runner = new PipelineRunner(new ObjectStoreFactory().Register("file", (uri, _) => new MeetingStore(new LocalObjectStore(uri), meeting)));
        var results = await Task.WhenAll(TempLake.RunAsync(Pipeline("cA", evens), runner: runner), TempLake.RunAsync(Pipeline("cB", odds), runner: runner));

        Assert.True(meeting.Met, "the two runs did not both reach their commit");
        Assert.All(results, r => Assert.True(r.Succeeded, r.Log.Error));
        Assert.Equal([["cA", "500", "500"], ["cB", "500", "500"]],
            _lake.Query("SELECT v, count(*), count(DISTINCT id) FROM read_parquet('{lake}/raw/test/k/*.parquet') GROUP BY v ORDER BY v"));
        Assert.Equal(1000, _lake.Manifest().Tables["test/k"].RowCount);
        // Every claim was released (file:// keeps the empty .lck sidecar of a conditional write, which no listing shows).
        Assert.Empty(_lake.Keys().Where(k => k.StartsWith(".dataspoc/claims/", StringComparison.Ordinal) && !k.EndsWith(".lck", StringComparison.Ordinal)).ToList());
        Assert.Contains(results, r => r.Log.Notices.Any(n => n.StartsWith("planned the commit again", StringComparison.Ordinal)));
    }

    /// <summary>The first <c>parties</c> journal writes wait until all of them arrived (at most 30 s); later ones pass.</summary>
    private sealed class JournalMeeting(int parties)
    {
        private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _arrived;

        public bool Met => _all.Task.IsCompletedSuccessfully;

        public Task ArriveAsync()
        {
            var arrived = Interlocked.Increment(ref _arrived);
            if (arrived > parties) return Task.CompletedTask;
            if (arrived == parties) _all.TrySetResult();
            return Task.WhenAny(_all.Task, Task.Delay(TimeSpan.FromSeconds(30)));
        }
    }

    private sealed class MeetingStore(IObjectStore inner, JournalMeeting meeting) : IObjectStore
    {
        public BucketUri Bucket => inner.Bucket;

        public string? LocalRoot => inner.LocalRoot;

        public Task PutFileAsync(string key, string localPath, CancellationToken cancellationToken) => inner.PutFileAsync(key, localPath, cancellationToken);

        public async Task<bool> PutAsync(string key, ReadOnlyMemory<byte> content, WriteCondition condition, CancellationToken cancellationToken)
        {
            if (key.StartsWith(".dataspoc/journal/", StringComparison.Ordinal)) await meeting.ArriveAsync().ConfigureAwait(false);
            return await inner.PutAsync(key, content, condition, cancellationToken).ConfigureAwait(false);
        }

        public Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);

        public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken) => inner.OpenReadAsync(key, cancellationToken);

        public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await foreach (var o in inner.ListAsync(prefix, cancellationToken).ConfigureAwait(false)) yield return o;
        }

        public Task DeleteAsync(string key, CancellationToken cancellationToken) => inner.DeleteAsync(key, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}

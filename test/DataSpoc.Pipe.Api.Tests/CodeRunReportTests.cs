using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Api.Tests;

/// <summary>What a run of code (a code source, a code transform, a progress callback, a token) reports to the program that runs it.</summary>
public sealed class CodeRunReportTests
{
    private static readonly JsonObject IdAndN = JsonNode.Parse("""{"type":"object","properties":{"id":{"type":"integer"},"n":{"type":["null","integer"]}}}""")!.AsObject();

    private static PipelineDefinition InCode(TempHome home, string name, string partitionBy = "none", TimeSpan? timeout = null, bool incremental = false) => new()
    {
        Name = home.Name(name),
        Source = new SourceDefinition { Tap = "unused", Timeout = timeout },
        Destination = new DestinationDefinition { Bucket = home.Bucket, PartitionBy = partitionBy },
        Incremental = new IncrementalSettings { Enabled = incremental },
    };

    [Fact]
    public async Task A_code_sources_errors_and_notices_name_the_record_of_its_stream_not_a_line()
    {
        using var home = new TempHome();
        var client = new PipeClient(home.Home);
        // Ten records of another stream before: a line count would say 15 (two SCHEMAs, ten records, three) for record 3.
        var wrongType = await client.RunAsync(InCode(home, "wrong-type"), new CodeSource("app")
            .AddStream("first", IdAndN, Rows(10))
            .AddStream("ev", IdAndN, Rows(5, (3, "abc"))));
        Assert.Equal("failure", wrongType.Log.Status);
        Assert.StartsWith("stream 'ev', record 3: field 'n': expected an integer, got a string", wrongType.Log.Error, StringComparison.Ordinal);

        var badSchema = await client.RunAsync(InCode(home, "bad-schema", partitionBy: "n"), new CodeSource("app").AddStream("ev", IdAndN, Rows(2)));
        Assert.Equal("stream 'ev': partition_by column 'n' is not a date or date-time property of this stream", badSchema.Log.Error);

        var numbers = JsonNode.Parse("""{"type":"object","properties":{"id":{"type":"integer"},"x":{"type":"number"}}}""")!.AsObject();
        var rounded = await client.RunAsync(InCode(home, "rounded"), new CodeSource("app")
            .AddStream("first", IdAndN, Rows(4))
            .AddStream("nums", numbers, Numbers()));
        Assert.True(rounded.Succeeded, rounded.Log.Error);
        Assert.Contains(rounded.Log.Notices, n => n.StartsWith("stream 'nums' column 'x': 1 number(s) had more significant digits than a DOUBLE holds and landed rounded (the first on record 6: ", StringComparison.Ordinal));

        static async IAsyncEnumerable<JsonObject> Numbers()
        {
            for (var i = 1; i <= 5; i++) yield return new JsonObject { ["id"] = i, ["x"] = 1.5 };
            yield return new JsonObject { ["id"] = 6, ["x"] = 1234567890.123456789012m };
            await Task.CompletedTask;
        }
    }

    [Fact]
    public async Task A_code_transform_that_throws_fails_the_run_naming_the_transform_the_record_the_stream_and_the_exception()
    {
        using var home = new TempHome();
        var client = new PipeClient(home.Home);
        static JsonObject? NoPrice(JsonObject r) => r["id"]!.GetValue<long>() == 3 ? throw new KeyNotFoundException("no price for sku 42") : r;
        CodeSource Source() => new CodeSource("app").AddStream("first", IdAndN, Rows(5)).AddStream("second", IdAndN, Rows(5));

        var named = await client.RunAsync(InCode(home, "named"), Source(), [new CodeTransform("first", r => r), new CodeTransform("second", NoPrice, name: "prices")]);
        Assert.Equal("failure", named.Log.Status);
        Assert.Equal("transform 'prices' failed on record 3 of stream 'second': KeyNotFoundException: no price for sku 42", named.Log.Error);

        // Unnamed, it is named by its place among the transforms of the stream (every stream's first, then the stream's own).
        var unnamed = await client.RunAsync(InCode(home, "unnamed"), Source(), [new CodeTransform(null, r => r), new CodeTransform("second", NoPrice)]);
        Assert.Equal("transform #2 (CodeTransform) failed on record 3 of stream 'second': KeyNotFoundException: no price for sku 42", unnamed.Log.Error);
        Assert.Empty(Directory.GetFiles(home.Lake, "*.parquet", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_progress_callback_that_throws_gets_no_more_reports_and_the_run_lands_its_records_with_a_notice()
    {
        using var home = new TempHome();
        var progress = new ThrowingProgress();
        var result = await new PipeClient(home.Home).RunAsync(InCode(home, "progress-throws"), new CodeSource("app").AddStream("s", IdAndN, Rows(40, delay: 20)),
            progress: progress);
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal(40, result.Log.TotalRecords);
        Assert.Equal(1, progress.Calls);
        Assert.Contains("the progress callback (ThrowingProgress) threw InvalidOperationException: progress handler bug; it got no more progress reports, and the run went on",
            result.Log.Notices);
        Assert.Equal([["40"]], home.Query("select count(*) from read_parquet('{lake}/raw/app/s/*.parquet')"));
    }

    [Fact]
    public async Task A_progress_callback_that_blocks_holds_back_neither_source_timeout_nor_the_run()
    {
        using var home = new TempHome();
        using var gate = new ManualResetEventSlim();
        var progress = new BlockingProgress(gate);
        try
        {
            // The source never ends by itself: only source.timeout stops it, which a callback blocking the watchdog would hold off for good.
            var run = new PipeClient(home.Home).RunAsync(InCode(home, "progress-blocks", timeout: TimeSpan.FromSeconds(1)),
                new CodeSource("app").AddStream("s", IdAndN, Rows(int.MaxValue, delay: 20)), progress: progress);
            var result = await run.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal("failure", result.Log.Status);
            Assert.StartsWith("the tap ran longer than source.timeout (1s) and was stopped", result.Log.Error, StringComparison.Ordinal);
            Assert.Equal("extract", progress.FirstPhase);
        }
        finally
        {
            gate.Set();
        }
    }

    [Fact]
    public async Task A_stop_that_comes_once_the_run_holds_its_lock_is_a_cancelled_run_with_its_log()
    {
        using var home = new TempHome();
        var pipeline = InCode(home, "stopped");
        using var stop = new CancellationTokenSource();
        var stores = new ObjectStoreFactory().Register("file", (uri, _) => new StopOnLockStore(new LocalObjectStore(uri), LakePaths.LockKey(pipeline.Name), stop));
        var client = new PipeClient(home.Home, stores);

        var result = await client.RunAsync(pipeline, new CodeSource("app").AddStream("s", IdAndN, Rows(3)), cancellationToken: stop.Token);
        Assert.Equal("cancelled", result.Log.Status);
        Assert.Equal("start", result.Log.FailedStep);
        Assert.Equal("the run was stopped during start (cancelled by a signal or its caller); nothing of it was committed", result.Log.Error);
        var log = JsonNode.Parse(File.ReadAllText(Path.Combine(home.Lake, LakePaths.LogKey(pipeline.Name, result.Log.StartedAt, result.Log.RunId))))!;
        Assert.Equal("cancelled", log["status"]!.GetValue<string>());
        Assert.Empty(Directory.GetFiles(home.Lake, "*.parquet", SearchOption.AllDirectories));

        // A stop before the lock is taken is no run: it throws, and writes no log.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.RunAsync(InCode(home, "never-started"), new CodeSource("app").AddStream("s", IdAndN, Rows(3)),
            cancellationToken: stop.Token));
        Assert.False(Directory.Exists(Path.Combine(home.Lake, Path.GetDirectoryName(LakePaths.LogKey(home.Name("never-started"), DateTimeOffset.UnixEpoch, "x"))!)));
    }

    [Fact]
    public async Task An_incremental_code_pipeline_reads_back_the_state_its_last_run_committed_and_resumes_from_it()
    {
        using var home = new TempHome();
        var client = new PipeClient(home.Home);
        var pipeline = InCode(home, "resumes", incremental: true);
        Assert.Null(await client.StateAsync(pipeline));

        for (var run = 1; run <= 2; run++)
        {
            var saved = await client.StateAsync(pipeline);
            var since = saved is null ? 0 : JsonNode.Parse(saved)!["last_id"]!.GetValue<int>();
            var source = new CodeSource("app").AddStream("s", IdAndN, Rows(3, from: since + 1)).WithState(new JsonObject { ["last_id"] = since + 3 });
            var result = await client.RunAsync(pipeline, source);
            Assert.True(result.Succeeded, result.Log.Error);
        }
        Assert.Equal("""{"last_id":6}""", JsonNode.Parse((await client.StateAsync(pipeline))!)!.ToJsonString());
        Assert.Equal([["1"], ["2"], ["3"], ["4"], ["5"], ["6"]], home.Query("select id from read_parquet('{lake}/raw/app/s/*.parquet') order by id"));
    }

    /// <summary><paramref name="count"/> records, ids from <paramref name="from"/>; <paramref name="bad"/> sets one record's <c>n</c> (by its number) to a string.</summary>
    private static async IAsyncEnumerable<JsonObject> Rows(int count, (int Record, string Value)? bad = null, int delay = 0, int from = 1,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (var i = 1; i <= count; i++)
        {
            if (delay > 0) await Task.Delay(delay, cancellationToken);
            yield return bad is { } b && b.Record == i
                ? new JsonObject { ["id"] = from + i - 1, ["n"] = b.Value }
                : new JsonObject { ["id"] = from + i - 1, ["n"] = i };
        }
    }

    private sealed class ThrowingProgress : IProgress<RunProgress>
    {
        private int _calls;
        public int Calls => Volatile.Read(ref _calls);

        public void Report(RunProgress value)
        {
            Interlocked.Increment(ref _calls);
            throw new InvalidOperationException("progress handler bug");
        }
    }

    private sealed class BlockingProgress(ManualResetEventSlim gate) : IProgress<RunProgress>
    {
        public string? FirstPhase { get; private set; }

        public void Report(RunProgress value)
        {
            FirstPhase ??= value.Phase;
            gate.Wait();
        }
    }

    /// <summary>Cancels the run's token as soon as its pipeline lock is written: the earliest moment the run holds it.</summary>
    private sealed class StopOnLockStore(IObjectStore inner, string lockKey, CancellationTokenSource stop) : IObjectStore
    {
        public BucketUri Bucket => inner.Bucket;
        public string? LocalRoot => inner.LocalRoot;

        public Task PutFileAsync(string key, string localPath, CancellationToken cancellationToken) => inner.PutFileAsync(key, localPath, cancellationToken);

        public async Task<bool> PutAsync(string key, ReadOnlyMemory<byte> content, WriteCondition condition, CancellationToken cancellationToken)
        {
            var written = await inner.PutAsync(key, content, condition, cancellationToken).ConfigureAwait(false);
            if (key == lockKey && written) await stop.CancelAsync().ConfigureAwait(false);
            return written;
        }

        public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken) => inner.OpenReadAsync(key, cancellationToken);
        public Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);
        public Task DeleteAsync(string key, CancellationToken cancellationToken) => inner.DeleteAsync(key, cancellationToken);
        public ValueTask DisposeAsync() => inner.DisposeAsync();
        public IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);
    }
}

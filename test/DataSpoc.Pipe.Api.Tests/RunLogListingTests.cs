using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Api.Tests;

/// <summary>
/// Reading a pipeline's latest runs from a long history: a pipeline run every few minutes keeps ~100,000 run logs a
/// year, and status, logs and the dashboard must not list them all every time.
/// </summary>
public class RunLogListingTests
{
    private const string Schema = """{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"}}}}""";

    /// <summary>The real local store, counting what its listings return (an object store returns 1,000 keys a request).</summary>
    private sealed class CountingStore(IObjectStore inner) : IObjectStore
    {
        public static long Listed;

        public BucketUri Bucket => inner.Bucket;
        public string? LocalRoot => inner.LocalRoot;

        public Task PutFileAsync(string key, string localPath, CancellationToken cancellationToken) => inner.PutFileAsync(key, localPath, cancellationToken);
        public Task<bool> PutAsync(string key, ReadOnlyMemory<byte> content, WriteCondition condition, CancellationToken cancellationToken) => inner.PutAsync(key, content, condition, cancellationToken);
        public Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);
        public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken) => inner.OpenReadAsync(key, cancellationToken);
        public Task DeleteAsync(string key, CancellationToken cancellationToken) => inner.DeleteAsync(key, cancellationToken);
        public ValueTask DisposeAsync() => inner.DisposeAsync();

        public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await foreach (var o in inner.ListAsync(prefix, cancellationToken))
            {
                Interlocked.Increment(ref Listed);
                yield return o;
            }
        }
    }

    /// <summary>A pipeline landing one record of stream orders, with <paramref name="extraYaml"/>; returns its name.</summary>
    private static string OrdersPipeline(TempHome home, string extraYaml)
    {
        var name = home.Name("orders");
        var file = home.WriteSinger("orders.singer", Schema, """{"type":"RECORD","stream":"orders","record":{"id":1}}""");
        home.WritePipeline(name, $"source:\n  tap: {TempHome.ReplayTap}\n  config: {{file: {file}}}\ndestination:\n  bucket: {home.Bucket}\n{extraYaml}");
        return name;
    }

    [Fact]
    public async Task A_truncated_run_log_is_named_and_marked_damaged_while_the_other_logs_and_status_still_read()
    {
        using var home = new TempHome();
        var name = OrdersPipeline(home, "");
        var client = new PipeClient(home.Home);
        var first = await client.RunAsync(name);
        var second = await client.RunAsync(name);
        Assert.True(first.Succeeded && second.Succeeded, first.Log.Error ?? second.Log.Error);

        // The latest run's log cut short, as a partial upload or a hand edit leaves it.
        var key = $".dataspoc/logs/{name}/{DateTimeOffset.UtcNow.AddMinutes(1):yyyy-MM-dd'T'HH-mm-ss'Z'}_cut0001.json";
        File.WriteAllText(Path.Combine(home.Lake, key), $$"""{"pipeline":"{{name}}","run_id":""");
        var problem = $"run log {key} in {home.Bucket} is not valid JSON";

        var logs = await client.LogsAsync(name, 5);
        Assert.Equal(["cut0001", second.Log.RunId, first.Log.RunId], logs.Select(l => l.RunId));
        Assert.Equal(["damaged", "success", "success"], logs.Select(l => l.Status));
        Assert.Contains(problem, logs[0].Error);

        var status = Assert.Single(await client.StatusAsync());
        Assert.Equal("success", status.Status);
        Assert.Equal(second.Log.RunId, status.RunId);
        Assert.Contains(problem, status.DamagedLogs);

        var latest = await Assert.ThrowsAsync<RunLogNotFoundException>(() => client.LogAsync(name));
        Assert.Contains(problem, latest.Message);
        Assert.Equal(second.Log.RunId, (await client.LogAsync(name, second.Log.RunId)).RunId);
    }

    [Fact]
    public async Task Status_and_recent_logs_list_the_latest_months_not_the_whole_history()
    {
        using var home = new TempHome();
        var name = OrdersPipeline(home, "");
        var first = await new PipeClient(home.Home).RunAsync(name);
        Assert.True(first.Succeeded, first.Log.Error);

        // 3,000 more runs, one every 8 hours from 2024-01-01 to 2026-09-26 (none in October to December), then two on
        // 2026-11-30: the history of a busy pipeline, written as runs write their logs.
        var logs = Path.Combine(home.Lake, ".dataspoc", "logs", name);
        var template = JsonNode.Parse(File.ReadAllText(Directory.GetFiles(logs).Single()))!.AsObject();
        void WriteLog(DateTimeOffset at, string runId)
        {
            template["run_id"] = runId;
            template["started_at"] = at.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
            File.WriteAllText(Path.Combine(logs, $"{at:yyyy-MM-dd'T'HH-mm-ss'Z'}_{runId}.json"), template.ToJsonString());
        }
        var start = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < 3000; i++) WriteLog(start.AddHours(8 * i), $"r{i:D5}");
        WriteLog(new DateTimeOffset(2026, 11, 30, 10, 0, 0, TimeSpan.Zero), "nov-a");
        WriteLog(new DateTimeOffset(2026, 11, 30, 11, 0, 0, TimeSpan.Zero), "nov-b");
        File.Delete(Directory.GetFiles(logs, "*" + first.Log.RunId + ".json").Single());

        var stores = new ObjectStoreFactory().Register("file", (uri, _) => new CountingStore(new LocalObjectStore(uri)));
        var client = new PipeClient(home.Home, stores, new FixedTime(new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.Zero)));

        CountingStore.Listed = 0;
        var status = Assert.Single(await client.StatusAsync());
        Assert.Equal("nov-b", status.RunId);
        // One page of the whole listing (1,000 keys read, then given up), the months from January 2027 back to November
        // (the first key of November), and November 30th's two.
        Assert.InRange(CountingStore.Listed, 1000, 1000 + 1 + 2);

        CountingStore.Listed = 0;
        var recent = await client.LogsAsync(name, 5);
        // Two in November, the rest from the latest runs of September (months walked back until five were found).
        Assert.Equal(["nov-b", "nov-a", "r02999", "r02998", "r02997"], recent.Select(l => l.RunId));
        Assert.True(CountingStore.Listed < 1000 + 2 + 100, $"listed {CountingStore.Listed} keys");

        // A run asked for by id is looked up in the whole history.
        Assert.Equal("r00003", (await client.LogAsync(name, "r00003")).RunId);

        // Expiry: the runs that started more than 90 days before 2026-12-05 12:00 go; the rest, and the latest, stay.
        var cutoff = new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.Zero).AddDays(-90);
        var older = Enumerable.Range(0, 3000).Count(i => start.AddHours(8 * i) < cutoff);
        var expiry = await client.ExpireLogsAsync(name, TimeSpan.FromDays(90));
        Assert.Equal((name, older, 3002 - older), (expiry.Pipeline, expiry.Deleted, expiry.Kept));
        Assert.Equal(3002 - older, Directory.GetFiles(logs).Length);
        Assert.Equal(["nov-b", "nov-a", "r02999"], (await client.LogsAsync(name, 3)).Select(l => l.RunId));

        // Everything older than the age: the latest run's log stays, so status still shows it.
        var later = new PipeClient(home.Home, stores, new FixedTime(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        Assert.Equal(3002 - older - 1, (await later.ExpireLogsAsync(name, TimeSpan.FromDays(1))).Deleted);
        Assert.Equal("nov-b", Assert.Single(await later.StatusAsync()).RunId);
    }

    [Fact]
    public async Task Status_reads_the_latest_of_a_busy_month_listing_only_its_latest_days()
    {
        using var home = new TempHome();
        var name = OrdersPipeline(home, "");
        var first = await new PipeClient(home.Home).RunAsync(name);
        Assert.True(first.Succeeded, first.Log.Error);
        var logs = Path.Combine(home.Lake, ".dataspoc", "logs", name);
        var template = JsonNode.Parse(File.ReadAllText(Directory.GetFiles(logs).Single()))!.AsObject();
        File.Delete(Directory.GetFiles(logs).Single());
        void WriteLog(DateTimeOffset at, string runId)
        {
            template["run_id"] = runId;
            template["started_at"] = at.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'");
            File.WriteAllText(Path.Combine(logs, $"{at:yyyy-MM-dd'T'HH-mm-ss'Z'}_{runId}.json"), template.ToJsonString());
        }
        var now = new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.Zero);
        // A run every 10 minutes for 41 days up to an hour ago: all of November and December's first days.
        for (var i = 0; i < 41 * 144; i++) WriteLog(now.AddHours(-1).AddMinutes(-10 * i), $"r{i:D5}");
        // Two runs in the last second of the day: the run id leads with the start millisecond, so the later sorts last.
        WriteLog(new DateTimeOffset(2026, 12, 5, 23, 59, 59, 999, TimeSpan.Zero), "3e7late");
        WriteLog(new DateTimeOffset(2026, 12, 5, 23, 59, 59, 0, TimeSpan.Zero), "000early");
        var stores = new ObjectStoreFactory().Register("file", (uri, _) => new CountingStore(new LocalObjectStore(uri)));
        var client = new PipeClient(home.Home, stores, new FixedTime(now));

        CountingStore.Listed = 0;
        Assert.Equal("3e7late", Assert.Single(await client.StatusAsync()).RunId);
        // One page of the whole listing, the first key of December, then December 5th (67 runs and the two), not the month.
        Assert.InRange(CountingStore.Listed, 1000, 1000 + 1 + 67 + 2);

        // A run whose clock was ahead, started just after midnight of tomorrow, is the latest.
        WriteLog(new DateTimeOffset(2026, 12, 6, 0, 0, 0, TimeSpan.Zero), "000ahead");
        CountingStore.Listed = 0;
        Assert.Equal("000ahead", Assert.Single(await client.StatusAsync()).RunId);
        Assert.InRange(CountingStore.Listed, 1000, 1000 + 2);
        Assert.Equal(["000ahead", "3e7late", "000early", "r00000"], (await client.LogsAsync(name, 4)).Select(l => l.RunId));
    }

    [Fact]
    public async Task Run_logs_keep_deletes_the_logs_that_aged_out_after_each_run_listing_only_those()
    {
        using var home = new TempHome();
        var name = OrdersPipeline(home, "run_logs:\n  keep: 30d\n");
        var logs = Path.Combine(home.Lake, ".dataspoc", "logs", name);
        var now = new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.Zero);
        // 2,000 runs every 6 hours up to a day ago: ~500 days of history written before the setting was added.
        Directory.CreateDirectory(logs);
        for (var i = 0; i < 2000; i++)
        {
            var at = now.AddDays(-1).AddHours(-6 * i);
            File.WriteAllText(Path.Combine(logs, $"{at:yyyy-MM-dd'T'HH-mm-ss'Z'}_h{i:D4}.json"), "{}");
        }
        var stores = new ObjectStoreFactory().Register("file", (uri, _) => new CountingStore(new LocalObjectStore(uri)));

        var first = await new PipeClient(home.Home, stores, new FixedTime(now)).RunAsync(name);
        Assert.True(first.Succeeded, first.Log.Error);
        // Started over 30 days before the run: runs h0117 (29.25 days before 'now - 1d') and later are younger.
        var young = Enumerable.Range(0, 2000).Count(i => now.AddDays(-1).AddHours(-6 * i) >= now.AddDays(-30));
        Assert.Contains($"run_logs.keep: deleted {2000 - young} run log(s) of runs started over 30d ago", first.Log.Notices);
        var left = Directory.GetFiles(logs).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(young + 1, left.Count);
        Assert.EndsWith($"_h{young - 1:D4}.json", left[0]);
        Assert.EndsWith($"_{first.Log.RunId}.json", left[^1]);

        // A week later: the runs that aged out since are deleted, and the listing stops at the first log kept.
        CountingStore.Listed = 0;
        var second = await new PipeClient(home.Home, stores, new FixedTime(now.AddDays(7))).RunAsync(name);
        Assert.True(second.Succeeded, second.Log.Error);
        Assert.Contains($"run_logs.keep: deleted {7 * 4} run log(s) of runs started over 30d ago", second.Log.Notices);
        Assert.Equal(young + 2 - 7 * 4, Directory.GetFiles(logs).Length);
        Assert.True(CountingStore.Listed < 100, $"listed {CountingStore.Listed} keys");

        // Everything past the age but the latest run's log: it stays, so status still shows the last run.
        var much = await new PipeClient(home.Home, stores, new FixedTime(now.AddYears(1))).RunAsync(name);
        Assert.Equal(2, Directory.GetFiles(logs).Length);
        Assert.Equal(much.Log.RunId, Assert.Single(await new PipeClient(home.Home, stores, new FixedTime(now.AddYears(1))).StatusAsync()).RunId);
    }
}

using System.Diagnostics;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lineage;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Lineage;

/// <summary>Real runs emitting OpenLineage events to a loopback collector; every event is checked against the spec's JSON schemas.</summary>
public sealed class OpenLineageEmitterTests : IDisposable
{
    private readonly TempLake _lake = new();
    private readonly LoopbackCollector _collector = new();

    public void Dispose()
    {
        _collector.Dispose();
        _lake.Dispose();
    }

    private string TwoStreams() => _lake.WriteSinger("shop.singer",
        """{"type":"SCHEMA","stream":"orders","schema":{"properties":{"id":{"type":"integer"},"amount":{"type":["null","number"]}}},"key_properties":["id"]}""",
        """{"type":"RECORD","stream":"orders","record":{"id":1,"amount":1.5}}""",
        """{"type":"RECORD","stream":"orders","record":{"id":2,"amount":null}}""",
        """{"type":"RECORD","stream":"orders","record":{"id":3,"amount":7}}""",
        """{"type":"SCHEMA","stream":"customers","schema":{"properties":{"id":{"type":"integer"},"name":{"type":"string"}}},"key_properties":["id"]}""",
        """{"type":"RECORD","stream":"customers","record":{"id":1,"name":"Ada"}}""");

    private Task<RunResult> RunAsync(PipelineDefinition pipeline, OpenLineageSettings settings) =>
        new PipelineRunner(new ObjectStoreFactory()).RunAsync(pipeline, new RunOptions { Observers = [new OpenLineageEmitter(settings)] }, CancellationToken.None);

    private OpenLineageSettings Http(TimeSpan? timeout = null) => new()
    {
        Url = new Uri(_collector.Url + "/"),
        ApiKey = "ol-key-123456",
        Namespace = "analytics",
        Timeout = timeout ?? OpenLineageSettings.DefaultTimeout,
    };

    [Fact]
    public async Task A_successful_run_emits_START_then_COMPLETE_with_one_output_per_table_carrying_schema_and_statistics()
    {
        var result = await RunAsync(_lake.Pipeline("shop", TwoStreams()), Http());
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.DoesNotContain(result.Log.Notices, n => n.Contains("OpenLineage", StringComparison.Ordinal));

        var requests = _collector.Requests.ToList();
        Assert.Equal(2, requests.Count);
        Assert.All(requests, r => Assert.Equal(("POST", "/api/v1/lineage", "Bearer ol-key-123456"), (r.Method, r.Path, r.Authorization)));
        Assert.All(requests, r => Assert.StartsWith("application/json", r.ContentType, StringComparison.Ordinal));
        var events = requests.Select(r => r.Json).ToList();
        OpenLineageSchemas.AssertValid(events);

        Assert.Equal(["START", "COMPLETE"], events.Select(e => (string)e["eventType"]!));
        Assert.Equal((string)events[0]["run"]!["runId"]!, (string)events[1]["run"]!["runId"]!);
        Assert.True(Guid.TryParse((string)events[0]["run"]!["runId"]!, out _));
        foreach (var e in events)
        {
            Assert.Equal(("analytics", "shop"), ((string)e["job"]!["namespace"]!, (string)e["job"]!["name"]!));
            Assert.Equal(("singer", "test"), ((string)e["inputs"]![0]!["namespace"]!, (string)e["inputs"]![0]!["name"]!));
        }
        Assert.Empty(events[0]["outputs"]!.AsArray());

        var manifest = _lake.Manifest();
        var outputs = events[1]["outputs"]!.AsArray().OrderBy(o => (string)o!["name"]!, StringComparer.Ordinal).ToList();
        Assert.Equal(["raw/test/customers", "raw/test/orders"], outputs.Select(o => (string)o!["name"]!));
        Assert.All(outputs, o => Assert.Equal(BucketUri.Parse(_lake.Bucket).Canonical, (string)o!["namespace"]!));
        var orders = outputs[1]!;
        var fields = orders["facets"]!["schema"]!["fields"]!.AsArray();
        Assert.Equal(manifest.Tables["test/orders"].Columns.Select(c => (c.Name, c.Type)),
            fields.Select(f => ((string)f!["name"]!, (string)f["type"]!)));
        Assert.Contains(fields, f => (string)f!["name"]! == "amount");
        var stats = orders["outputFacets"]!["outputStatistics"]!;
        Assert.Equal((3L, manifest.Tables["test/orders"].Stats.Files, manifest.Tables["test/orders"].Stats.Bytes),
            ((long)stats["rowCount"]!, (long)stats["fileCount"]!, (long)stats["size"]!));
        Assert.Equal(1L, (long)outputs[0]!["outputFacets"]!["outputStatistics"]!["rowCount"]!);
    }

    [Fact]
    public async Task A_merge_runs_output_statistics_count_the_rows_of_the_files_it_wrote_not_the_records_it_received()
    {
        const string schema = """{"type":"SCHEMA","stream":"orders","schema":{"type":"object","properties":{"id":{"type":"integer"},"_sdc_deleted_at":{"type":["null","string"],"format":"date-time"}}},"key_properties":["id"]}""";
        static string Record(int id, bool deleted = false) =>
            $$$"""{"type":"RECORD","stream":"orders","record":{"id":{{{id}}},"_sdc_deleted_at":{{{(deleted ? "\"2026-01-01T00:00:00Z\"" : "null")}}}}}""";
        PipelineDefinition Merge(string file) => _lake.Pipeline("orders-merge", file, p => p with
        {
            Destination = p.Destination with { PartitionBy = PartitionBySettings.None, WriteMode = WriteMode.Merge, Merge = new MergeSettings() },
        });
        var first = await RunAsync(Merge(_lake.WriteSinger("first.jsonl", [schema, .. Enumerable.Range(1, 10).Select(i => Record(i))])), Http());
        Assert.True(first.Succeeded, first.Log.Error);
        var before = _lake.ParquetKeys();

        // Four records: one update, two deletes, one new key. The rewritten file keeps the eight rows that stay plus the new one.
        var second = await RunAsync(Merge(_lake.WriteSinger("second.jsonl", schema, Record(2), Record(3, deleted: true), Record(4, deleted: true), Record(11))), Http());
        Assert.True(second.Succeeded, second.Log.Error);
        var written = _lake.ParquetKeys().Except(before).ToList();
        Assert.NotEmpty(written);
        var rows = long.Parse(_lake.Query($"SELECT count(*) FROM read_parquet([{string.Join(", ", written.Select(k => $"'{{lake}}/{k}'"))}])")[0][0]!);
        Assert.Equal(9L, rows);

        var events = _collector.Requests.Select(r => r.Json).ToList();
        OpenLineageSchemas.AssertValid(events);
        var stats = events[^1]["outputs"]![0]!["outputFacets"]!["outputStatistics"]!;
        Assert.Equal((rows, (long)written.Count, written.Sum(k => new FileInfo(Path.Combine(_lake.Root, k)).Length)),
            ((long)stats["rowCount"]!, (long)stats["fileCount"]!, (long)stats["size"]!));
    }

    [Fact]
    public async Task A_failed_run_emits_FAIL_with_the_error_message_and_the_secret_masked()
    {
        var secret = "pw-" + Guid.NewGuid().ToString("N")[..10];
        var pipeline = _lake.Pipeline("shop", TwoStreams(), extraConfig: new JsonObject
        {
            ["password"] = secret,
            ["stderr"] = $"login refused for password {secret}",
            ["exit_code"] = 3,
        });
        var result = await RunAsync(pipeline, Http());
        Assert.False(result.Succeeded);

        var events = _collector.Requests.Select(r => r.Json).ToList();
        OpenLineageSchemas.AssertValid(events);
        Assert.Equal(["START", "FAIL"], events.Select(e => (string)e["eventType"]!));
        var error = (string)events[1]["run"]!["facets"]!["errorMessage"]!["message"]!;
        Assert.Contains("the tap exited with code 3", error);
        Assert.Contains("login refused for password ***", error);
        Assert.Empty(events[1]["outputs"]!.AsArray());
        Assert.All(_collector.Requests, r => Assert.DoesNotContain(secret, System.Text.Encoding.UTF8.GetString(r.Body)));
    }

    [Fact]
    public async Task A_secret_in_the_bucket_URI_is_masked_in_every_event_as_in_the_run_log()
    {
        // As a ${VAR} or .env value would: the bucket folder holds the secret. (A source name holding one is refused before
        // the run starts: SecretInTableLocationTests.)
        var secret = "Lake" + Guid.NewGuid().ToString("N")[..10];
        var pipeline = _lake.Pipeline("shop", TwoStreams(), p => p with
        {
            Secrets = [secret],
            Source = p.Source with { Name = "plain_src" },
            Destination = p.Destination with { Bucket = _lake.Bucket + "/" + secret },
        });
        var result = await RunAsync(pipeline, Http());
        Assert.True(result.Succeeded, result.Log.Error);

        var events = _collector.Requests.Select(r => r.Json).ToList();
        OpenLineageSchemas.AssertValid(events);
        Assert.Equal(["START", "COMPLETE"], events.Select(e => (string)e["eventType"]!));
        Assert.Equal("plain_src", (string)events[0]["inputs"]![0]!["name"]!);
        var output = events[1]["outputs"]![0]!;
        Assert.Equal(BucketUri.Parse(_lake.Bucket).Canonical + "/***", (string)output["namespace"]!);
        Assert.StartsWith("raw/plain_src/", (string)output["name"]!, StringComparison.Ordinal);
        foreach (var body in _collector.Requests.Select(r => System.Text.Encoding.UTF8.GetString(r.Body)))
        {
            Assert.Null(SecretForms.FoundIn(body, secret));
            Assert.DoesNotContain(secret.ToLowerInvariant(), body, StringComparison.Ordinal);
            Assert.DoesNotContain(Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(secret)), body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_run_that_cannot_open_its_bucket_emits_START_then_FAIL_with_the_error()
    {
        File.WriteAllText(Path.Combine(_lake.Root, "not-a-folder"), "");
        var pipeline = _lake.Pipeline("shop", TwoStreams(), p => p with { Destination = p.Destination with { Bucket = _lake.Bucket + "/not-a-folder/lake" } });
        var error = await Assert.ThrowsAnyAsync<PipeException>(() => RunAsync(pipeline, Http()));

        var events = _collector.Requests.Select(r => r.Json).ToList();
        OpenLineageSchemas.AssertValid(events);
        Assert.Equal(["START", "FAIL"], events.Select(e => (string)e["eventType"]!));
        Assert.Equal((string)events[0]["run"]!["runId"]!, (string)events[1]["run"]!["runId"]!);
        Assert.Equal(error.Message, (string)events[1]["run"]!["facets"]!["errorMessage"]!["message"]!);
        Assert.Contains("not-a-folder", error.Message, StringComparison.Ordinal);
        Assert.Empty(events[1]["outputs"]!.AsArray());
    }

    [Fact]
    public async Task A_collector_that_is_down_or_refuses_never_fails_the_run_and_leaves_a_notice()
    {
        var down = new OpenLineageSettings { Url = new Uri($"http://127.0.0.1:{LoopbackCollector.FreePort()}/") };
        var result = await RunAsync(_lake.Pipeline("shop", TwoStreams()), down);
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Contains(result.Log.Notices, n => n.StartsWith("OpenLineage: the START event was not delivered to http://127.0.0.1:", StringComparison.Ordinal));
        Assert.Contains(result.Log.Notices, n => n.StartsWith("OpenLineage: the COMPLETE event was not delivered", StringComparison.Ordinal));
        Assert.Contains(_lake.Logs("shop").Single().Notices, n => n.Contains("COMPLETE event was not delivered", StringComparison.Ordinal));

        _collector.Answer = 500;
        var refused = await RunAsync(_lake.Pipeline("shop", TwoStreams()), Http());
        Assert.True(refused.Succeeded, refused.Log.Error);
        Assert.Contains(refused.Log.Notices, n => n.Contains("the collector answered 500", StringComparison.Ordinal));
        Assert.DoesNotContain(refused.Log.Notices, n => n.Contains("ol-key-123456", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_collector_that_never_answers_holds_the_run_only_for_the_timeout()
    {
        _collector.Answer = null;
        var clock = Stopwatch.StartNew();
        var result = await RunAsync(_lake.Pipeline("shop", TwoStreams()), Http(TimeSpan.FromMilliseconds(400)));
        clock.Stop();
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Contains(result.Log.Notices, n => n.Contains("START event was not delivered", StringComparison.Ordinal) && n.EndsWith("no answer within 0.4s", StringComparison.Ordinal));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"the run took {clock.Elapsed}");
        // The run gave up on each event after 0.4 s; the collector may take a moment longer to accept the last one
        // (under a loaded machine its loop lags behind the client's timeout).
        for (var waited = 0; _collector.Requests.Count < 2 && waited < 100; waited++) await Task.Delay(100);
        Assert.Equal(2, _collector.Requests.Count);
    }

    [Fact]
    public async Task Runs_and_writers_sharing_the_file_transport_at_once_lose_no_event()
    {
        var file = Path.Combine(_lake.Root, "..", Path.GetFileName(_lake.Root) + "-shared-lineage.jsonl");
        var settings = new OpenLineageSettings { Transport = "file", FilePath = file };
        try
        {
            // Four runs at once (as `run --all --parallel 4`), each with its own emitter, beside eight more writers (other
            // processes' emitters open the file on their own just the same) that send 25 events each as fast as they can.
            var runs = Enumerable.Range(0, 4).Select(i => Task.Run(() => RunAsync(_lake.Pipeline("shop" + i, TwoStreams()), settings))).ToList();
            var start = new RunStart(_lake.Pipeline("burst", TwoStreams()), "r1", DateTimeOffset.UtcNow, BucketUri.Parse(_lake.Bucket), "test", Redactor.None);
            var writers = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
            {
                var emitter = new OpenLineageEmitter(settings);
                for (var e = 0; e < 25; e++) await emitter.RunStartedAsync(start, CancellationToken.None);
            })).ToList();
            await Task.WhenAll(writers);
            foreach (var run in runs)
            {
                var result = await run;
                Assert.True(result.Succeeded, result.Log.Error);
                Assert.Empty(result.Log.Notices);
            }

            var events = File.ReadAllLines(file).Select(l => JsonNode.Parse(l)!).ToList();
            Assert.Equal(200 + 8, events.Count);
            Assert.Equal(200, events.Count(e => (string)e["job"]!["name"]! == "burst"));
            foreach (var pipeline in Enumerable.Range(0, 4).Select(i => "shop" + i))
                Assert.Equal(["START", "COMPLETE"], events.Where(e => (string)e["job"]!["name"]! == pipeline).Select(e => (string)e["eventType"]!));
            OpenLineageSchemas.AssertValid(events.Where(e => (string)e["job"]!["name"]! != "burst").Append(events[0]));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task The_file_transport_appends_one_JSON_line_per_event()
    {
        var file = Path.Combine(_lake.Root, "..", Path.GetFileName(_lake.Root) + "-lineage.jsonl");
        try
        {
            var result = await RunAsync(_lake.Pipeline("shop", TwoStreams()), new OpenLineageSettings { Transport = "file", FilePath = file });
            Assert.True(result.Succeeded, result.Log.Error);
            var events = File.ReadAllLines(file).Select(l => JsonNode.Parse(l)!).ToList();
            Assert.Equal(["START", "COMPLETE"], events.Select(e => (string)e["eventType"]!));
            OpenLineageSchemas.AssertValid(events);
        }
        finally
        {
            File.Delete(file);
        }
    }
}

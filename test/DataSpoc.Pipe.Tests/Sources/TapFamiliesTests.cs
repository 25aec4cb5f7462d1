using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources;

/// <summary>
/// Tap scripts that behave like the other Singer tap families, run as real subprocesses: a Meltano Singer SDK tap (click
/// flags, <c>--catalog</c> only, <c>_sdc_*</c> columns, BATCH messages) and a PipelineWise tap (<c>--properties</c>,
/// <c>schema-table</c> stream names, ACTIVATE_VERSION). The lake is read back with DuckDB.
/// </summary>
public sealed class TapFamiliesTests : IDisposable
{
    private readonly TempLake _lake = new();
    private readonly string _scratch = Directory.CreateTempSubdirectory("dsp-batch-").FullName;

    public void Dispose()
    {
        _lake.Dispose();
        try { Directory.Delete(_scratch, true); } catch (IOException) { }
    }

    private PipelineDefinition Pipeline(string script, JsonObject? config = null, Func<SourceDefinition, SourceDefinition>? source = null) => new()
    {
        Name = Path.GetFileNameWithoutExtension(script).Replace('_', '-'),
        Source = (source ?? (s => s))(new SourceDefinition { Tap = "python3 " + TempLake.Asset(script), InlineConfig = config ?? [], Name = "t" }),
        Destination = new DestinationDefinition { Bucket = _lake.Bucket },
    };

    private static Task<RunResult> TryRunAsync(PipelineDefinition pipeline) =>
        new PipelineRunner(new ObjectStoreFactory()).RunAsync(pipeline, new RunOptions(), CancellationToken.None);

    private static async Task<RunResult> RunAsync(PipelineDefinition pipeline)
    {
        var result = await TryRunAsync(pipeline);
        Assert.True(result.Succeeded, $"run failed: {result.Log.Error} / stderr: {result.Log.Tap?.StderrTail}");
        return result;
    }

    private List<List<string?>> Users() =>
        _lake.Query("SELECT id, name, strftime(_sdc_extracted_at, '%S') FROM read_parquet('{lake}/raw/t/users/*/*.parquet') ORDER BY id");

    private static List<List<string?>> ExpectedUsers(int rows) =>
        Enumerable.Range(1, rows).Select(i => new List<string?> { $"{i}", $"user {i}", $"{i % 60:D2}" }).ToList();

    [Fact]
    public async Task An_sdk_tap_gets_its_catalog_by_the_catalog_flag_only_and_its_sdc_columns_land()
    {
        var result = await RunAsync(Pipeline("sdk_tap.py", new JsonObject { ["rows"] = 7 }, s => s with { Streams = ["us*"] }));

        Assert.Contains("--catalog", result.Log.Tap.Command, StringComparison.Ordinal);
        Assert.DoesNotContain("--properties", result.Log.Tap.Command, StringComparison.Ordinal);
        Assert.Equal(["users"], result.Log.Streams.Keys);
        Assert.Equal(ExpectedUsers(7), Users());
    }

    [Fact]
    public async Task An_sdk_tap_without_source_streams_has_every_stream_selected()
    {
        var result = await RunAsync(Pipeline("sdk_tap.py"));
        Assert.Equal(["events", "users"], result.Log.Streams.Keys.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("", "us*", "users")] // a glob selects the stream
    [InlineData("db-", "db-users", "users")] // its tap_stream_id selects it
    [InlineData("db-", "db-u*", "db-users")] // the map keyed by that id applies to the stream's messages, which carry the name
    public async Task Transforms_apply_to_a_stream_source_streams_selects_by_a_glob_or_its_id(string idPrefix, string selection, string mapKey)
    {
        var pipeline = Pipeline("sdk_tap.py", new JsonObject { ["rows"] = 3, ["stream_id_prefix"] = idPrefix }, s => s with { Streams = [selection] }) with
        {
            Transforms = new Dictionary<string, JsonNode?> { [mapKey] = new JsonObject { ["drop"] = new JsonArray("name") } },
        };
        var result = await RunAsync(pipeline);

        Assert.Equal(["users"], result.Log.Streams.Keys);
        Assert.Equal(3, result.Log.Streams["users"].Records);
        Assert.DoesNotContain(result.Log.Notices, n => n.Contains("applied to nothing", StringComparison.Ordinal));
        Assert.Equal([["_sdc_extracted_at"], ["id"]],
            _lake.Query("SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet('{lake}/raw/t/users/*/*.parquet', hive_partitioning = false)) ORDER BY 1"));
    }

    [Fact]
    public async Task A_transforms_map_of_a_stream_source_streams_does_not_select_is_refused_naming_what_it_selects()
    {
        var pipeline = Pipeline("sdk_tap.py", new JsonObject { ["stream_id_prefix"] = "db-" }, s => s with { Streams = ["db-us*"] }) with
        {
            Transforms = new Dictionary<string, JsonNode?> { ["events"] = new JsonObject { ["drop"] = new JsonArray("kind") } },
        };
        var result = await TryRunAsync(pipeline);

        Assert.False(result.Succeeded);
        Assert.Contains("transforms.events: stream 'events' is not selected in source.streams (db-us*); it selects: users", result.Log.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("none")]
    public async Task Batch_messages_of_jsonl_files_land_every_record_as_record_lines_would(string compression)
    {
        var config = new JsonObject
        {
            ["rows"] = 10,
            ["batch_size"] = 4,
            ["batch_config"] = new JsonObject
            {
                ["encoding"] = new JsonObject { ["format"] = "jsonl", ["compression"] = compression },
                ["storage"] = new JsonObject { ["root"] = "file://" + _scratch },
            },
        };
        var result = await RunAsync(Pipeline("sdk_tap.py", config));

        Assert.Equal(10, result.Log.Streams["users"].Records);
        Assert.Equal(ExpectedUsers(10), Users());
        Assert.Equal(10, result.Log.Streams["events"].Records); // RECORD lines of the other stream, between the batches
    }

    [Fact]
    public async Task A_batch_of_parquet_files_lands_their_rows()
    {
        var file = Path.Combine(_scratch, "users.parquet");
        _lake.Query($"""
            COPY (SELECT i::BIGINT AS id, 'user ' || i AS name, TIMESTAMPTZ '2025-03-01 12:00:00+00' + to_seconds(i % 60) AS _sdc_extracted_at
                  FROM range(1, 2501) t(i)) TO '{file}' (FORMAT parquet)
            """);
        var result = await RunAsync(Pipeline("sdk_tap.py", new JsonObject { ["batch_manifest"] = new JsonArray("file://" + file) }, s => s with { Streams = ["users"] }));

        Assert.Equal(2500, result.Log.Streams["users"].Records);
        Assert.Equal(ExpectedUsers(2500), Users());
    }

    [Fact]
    public async Task A_batch_naming_a_missing_file_fails_the_run_naming_the_file_and_lands_nothing()
    {
        var missing = "file://" + Path.Combine(_scratch, "gone.parquet");
        var result = await TryRunAsync(Pipeline("sdk_tap.py", new JsonObject { ["batch_manifest"] = new JsonArray(missing) }, s => s with { Streams = ["users"] }));

        Assert.False(result.Succeeded);
        Assert.Contains("gone.parquet", result.Log.Error, StringComparison.Ordinal);
        Assert.Contains("BATCH", result.Log.Error, StringComparison.Ordinal);
        Assert.Empty(_lake.ParquetKeys());
    }

    [Fact]
    public async Task A_bad_record_in_a_batch_file_names_the_file_and_its_line()
    {
        var file = Path.Combine(_scratch, "users.jsonl");
        await File.WriteAllTextAsync(file, "{\"id\": 1, \"name\": \"a\"}\n{\"id\": \"not a number\", \"name\": \"b\"}\n");
        // A replayed stream whose BATCH names a jsonl file with a bad second record.
        var input = _lake.WriteSinger("batch.jsonl",
            """{"type": "SCHEMA", "stream": "users", "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}, "key_properties": ["id"]}""",
            $$"""{"type": "BATCH", "stream": "users", "encoding": {"format": "jsonl"}, "manifest": ["file://{{file}}"]}""");
        var result = await TryRunAsync(_lake.Pipeline("replayed-batch", input));

        Assert.False(result.Succeeded);
        Assert.Contains($"BATCH file file://{file}", result.Log.Error, StringComparison.Ordinal);
        Assert.Contains("line 2", result.Log.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(InvalidRecordPolicy.Skip)]
    [InlineData(InvalidRecordPolicy.Quarantine)]
    public async Task A_bad_record_in_a_batch_file_set_aside_is_named_by_the_file_and_its_line(InvalidRecordPolicy policy)
    {
        var file = Path.Combine(_scratch, "users.jsonl");
        await File.WriteAllTextAsync(file, "{\"id\": 1, \"name\": \"a\"}\n{\"id\": 2, \"name\": \"b\"}\n{\"id\": \"x3\", \"name\": \"c\"}\n");
        // The tap prints two lines; the bad record is on line 3 of the file.
        var input = _lake.WriteSinger("batch.jsonl",
            """{"type": "SCHEMA", "stream": "users", "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}, "key_properties": ["id"]}""",
            $$"""{"type": "BATCH", "stream": "users", "encoding": {"format": "jsonl"}, "manifest": ["file://{{file}}"]}""");
        var result = await RunAsync(_lake.Pipeline("replayed-batch", input, p => p with { OnInvalidRecord = policy }));

        Assert.Equal(2, result.Log.Streams["users"].Records);
        var rejected = Assert.Single(result.Log.Notices, n => n.StartsWith("rejected: ", StringComparison.Ordinal));
        Assert.Equal($"rejected: stream 'users', BATCH file file://{file} line 3 (the BATCH message on line 2): field 'id': expected an integer, got a string", rejected);
    }

    [Fact]
    public async Task A_pipelinewise_tap_gets_its_catalog_by_properties_and_lands_its_schema_table_streams()
    {
        var result = await RunAsync(Pipeline("pipelinewise_tap.py"));

        Assert.Contains("--properties", result.Log.Tap.Command, StringComparison.Ordinal);
        var stream = Assert.Single(result.Log.Streams);
        Assert.Equal("public-books", stream.Key);
        Assert.Equal(4, stream.Value.Records);
        var table = _lake.Manifest().Tables.Values.Single().Table;
        Assert.Equal(
            [["1", "book 1", null], ["2", "book 2", "2025-01-01 00:00:00"], ["3", "book 3", null], ["4", "book 4", null]],
            _lake.Query($"SELECT id, title, strftime(_sdc_deleted_at, '%Y-%m-%d %H:%M:%S') FROM read_parquet('{{lake}}/raw/t/{table}/*/*.parquet') ORDER BY id"));
    }

    [Fact]
    public async Task A_catalog_flag_set_in_the_pipeline_wins_over_what_the_tap_lists()
    {
        var result = await TryRunAsync(Pipeline("pipelinewise_tap.py", source: s => s with { CatalogFlag = CatalogFlags.Catalog }));

        Assert.False(result.Succeeded);
        Assert.Contains("passed with --catalog", result.Log.Error, StringComparison.Ordinal);
        Assert.Contains("No streams selected", result.Log.Error, StringComparison.Ordinal);
    }
}

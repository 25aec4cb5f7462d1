using System.Text.Json.Nodes;
using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Tests.Support;
using Xunit;

namespace DataSpoc.Pipe.Tests.Runs;

/// <summary>
/// The engine's typed sink against the Singer reader: the same typed calls, once as typed rows and once printed as
/// Singer JSON, give the same lake, for every column type and conversion, nulls and missing properties, nested values,
/// partitions, projections and record transforms, and invalid values under each on_invalid_record policy.
/// </summary>
public sealed class EngineSinkTests
{
    private static readonly JsonObject AllTypesSchema = JsonNode.Parse("""
        {"type": "object", "properties": {
          "id": {"type": ["integer"]},
          "amount": {"type": ["null", "number"], "multipleOf": 0.01},
          "ratio": {"type": ["null", "number"]},
          "flag": {"type": ["null", "boolean"]},
          "name": {"type": ["null", "string"]},
          "day": {"type": ["null", "string"], "format": "date"},
          "at": {"type": ["null", "string"], "format": "date-time"},
          "t": {"type": ["null", "string"], "format": "time"},
          "blob": {"type": ["null", "string"], "contentEncoding": "base64"},
          "doc": {"type": ["null", "object"], "properties": {"a": {"type": ["null", "integer"]}, "b": {"type": ["null", "string"]}}},
          "tags": {"type": ["null", "array"], "items": {"type": ["null", "string"]}},
          "any": {},
          "exact": {"type": ["integer", "number"]},
          "mixed": {"type": ["string", "integer"]}
        }}
        """)!.AsObject();

    private static readonly JsonObject EventsSchema = JsonNode.Parse("""
        {"type": "object", "properties": {"id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"}, "note": {"type": ["null", "string"]}}}
        """)!.AsObject();

    private const int Id = 0, Amount = 1, Ratio = 2, Flag = 3, Name = 4, Day = 5, At = 6, T = 7, Blob = 8, Doc = 9, Tags = 10, Any = 11, Exact = 12, Mixed = 13;

    private static readonly DateTime Instant = new DateTime(2024, 12, 31, 23, 59, 58, DateTimeKind.Utc).AddTicks(1_234_567);

    /// <summary>Rows of every column type, with the conversions a source may ask for, nulls and missing properties; two streams interleaved.</summary>
    private static async Task ValidRowsAsync(RecordSink sink, CancellationToken cancellationToken)
    {
        var all = sink.WriteSchema("all", AllTypesSchema, ["id"]);
        var events = sink.WriteSchema("events", EventsSchema, ["id"]);
        sink.WriteActivateVersion("all", 1);

        all.BeginRow();
        all.Long(Id, 1);
        all.Decimal(Amount, 10.50m);
        all.Double(Ratio, 1.1);
        all.Bool(Flag, true);
        all.String(Name, "héllo \"w\"\t✓");
        all.Date(Day, new DateOnly(2024, 2, 29));
        all.Timestamp(At, Instant);
        all.Time(T, new TimeOnly(7, 5, 3).Add(TimeSpan.FromTicks(17)));
        all.Base64(Blob, [1, 2, 3, 250]);
        all.Json(Doc, """{"a": 5, "b": "x", "extra": 1}"""u8);
        all.Json(Tags, """["a", null, "b"]"""u8);
        all.Json(Any, """{"k": [1, 2.50, "é"]}""");
        all.Long(Exact, 9_007_199_254_740_992);
        all.Long(Mixed, 42);
        all.EndRow();
        await sink.FlushIfFullAsync(cancellationToken);

        events.BeginRow();
        events.Long(0, 100);
        events.Timestamp(1, Instant.AddDays(-3));
        events.EndRow();

        all.BeginRow();
        all.Long(Id, 2);
        all.Long(Amount, 7);
        all.Long(Ratio, -3);
        all.Null(Flag);
        all.Utf8String(Name, "ünï ✓"u8);
        all.String(Day, "2024-03-01T10:00:00Z");
        all.String(At, "2024-01-04T12:00:00+02:00");
        all.String(T, "23:59:59.9999999");
        all.Null(Blob);
        all.Json(Tags, "[]"u8);
        all.Json(Any, "\"text\""u8);
        all.Double(Exact, 2.5);
        all.String(Mixed, "x");
        all.EndRow();

        all.BeginRow();
        all.Long(Id, 3);
        all.Decimal(Amount, -1.5m);
        all.Decimal(Ratio, 2.25m);
        all.Bool(Flag, false);
        all.Long(Name, 99);
        all.Timestamp(Day, Instant);
        all.Date(At, new DateOnly(2024, 5, 6));
        all.Null(T);
        all.Base64(Blob, []);
        all.Json(Doc, "null"u8);
        all.Null(Tags);
        all.Double(Any, 1.5);
        all.Null(Exact);
        all.Bool(Mixed, true);
        all.EndRow();

        events.BeginRow();
        events.Long(0, 101);
        events.String(1, "2024-06-01 08:00:00");
        events.String(2, "second");
        events.EndRow();

        all.BeginRow();
        all.Long(Id, 4);
        all.EndRow();

        // Properties in reverse order, and a record given whole as JSON (with a property the schema does not declare).
        all.BeginRow();
        all.String(Name, "reversed");
        all.Time(T, new TimeOnly(0, 0));
        all.Long(Id, 5);
        all.EndRow();
        all.WriteJsonRow("""{"id": 6, "name": "whole", "at": "2024-02-02T02:02:02Z", "undeclared": true}"""u8);

        sink.WriteState(new JsonObject { ["bookmarks"] = new JsonObject { ["all"] = new JsonObject { ["id"] = 6, ["at"] = "2024-02-02T02:02:02+00:00" } } });
        await sink.FlushAsync(cancellationToken);
    }

    /// <summary>The valid rows, then values that do not fit their columns, each in a row of its own, then a STATE.</summary>
    private static Task InvalidRowsAsync(RecordSink sink, CancellationToken cancellationToken) => InvalidRowsAsync(sink, cancellationToken, duplicate: true);

    private static async Task InvalidRowsAsync(RecordSink sink, CancellationToken cancellationToken, bool duplicate)
    {
        await ValidRowsAsync(sink, cancellationToken);
        var all = sink.WriteSchema("all", AllTypesSchema, ["id"]);
        all.BeginRow(); all.Long(Id, 10); all.Decimal(Amount, 1.234m); all.String(Name, "too precise"); all.EndRow();
        all.BeginRow(); all.Long(Id, 11); all.String(Day, "not a date"); all.EndRow();
        all.BeginRow(); all.Long(Id, 12); all.Json(Doc, "[1]"u8); all.EndRow();
        // A property given twice (a JSON object with the key twice): the reader's tokenizer rejects it.
        if (duplicate) { all.BeginRow(); all.Long(Id, 13); all.Long(Id, 14); all.EndRow(); }
        all.BeginRow(); all.Long(Id, 15); all.Long(Exact, 9_007_199_254_740_993); all.EndRow();
        all.BeginRow(); all.Double(Id, 1.5); all.EndRow();
        all.BeginRow(); all.Long(Id, 16); all.String(At, "yesterday"); all.Long(Name, 1); all.EndRow();
        all.BeginRow(); all.Long(Id, 17); all.Bool(Ratio, true); all.EndRow();
        all.BeginRow(); all.Long(Id, 18); all.Json(Tags, """{"a": 1}"""u8); all.EndRow();
        sink.WriteState(new JsonObject { ["bookmarks"] = new JsonObject { ["all"] = new JsonObject { ["id"] = 18 } } });
        await sink.FlushAsync(cancellationToken);
    }

    private static ISource Scripted(Func<RecordSink, CancellationToken, Task> script) => new BuiltInSource(new ScriptedTypedTap("scripted", script));

    private static Func<string, PipelineDefinition> Pipeline(Func<PipelineDefinition, PipelineDefinition>? change = null) => bucket =>
    {
        var pipeline = new PipelineDefinition
        {
            Name = "typed",
            Source = new SourceDefinition { Tap = "scripted", InlineConfig = new JsonObject() },
            Destination = new DestinationDefinition { Bucket = bucket },
            Incremental = new IncrementalSettings { Enabled = true },
        };
        return change is null ? pipeline : change(pipeline);
    };

    [Fact]
    public async Task Typed_rows_of_every_column_type_land_as_their_Singer_JSON_would()
    {
        var sinks = new List<string>();
        var (typed, _) = await TypedSourceDifferential.AssertSameLakeAsync(Pipeline(), () => Scripted((sink, ct) =>
        {
            sinks.Add(sink.GetType().Name);
            return ValidRowsAsync(sink, ct);
        }));
        Assert.Equal(["EngineSink", "SingerJsonSink"], sinks);
        Assert.True(typed.Succeeded, typed.Log.Error);
        Assert.Equal(6, typed.Log.Streams["all"].Records);
        Assert.Equal(2, typed.Log.Streams["all"].DroppedProperties.Count); // doc.extra and undeclared
    }

    [Theory]
    [InlineData(InvalidRecordPolicy.Fail, true)]
    [InlineData(InvalidRecordPolicy.Quarantine, false)] // a rejected row is quarantined as its line: its values are recorded first
    public async Task Flat_rows_stored_straight_into_the_column_buffers_land_as_their_Singer_JSON_would(InvalidRecordPolicy policy, bool direct)
    {
        var offered = new List<(string Sink, bool Direct)>();
        var (typed, _) = await TypedSourceDifferential.AssertSameLakeAsync(Pipeline(p => p with { OnInvalidRecord = policy }), () => Scripted((sink, ct) =>
        {
            var events = sink.WriteSchema("events", EventsSchema, ["id"]);
            offered.Add((sink.GetType().Name, events.Direct is not null));
            for (var i = 0; i < 100; i++)
            {
                var at = Instant.AddMinutes(i);
                var note = i % 3 == 0 ? null : $"n{i} ✓";
                if (events.Direct is { } rows && WriteDirect(rows, i, at, note)) continue;
                events.BeginRow();
                events.Long(0, i);
                events.Timestamp(1, at);
                if (note is null) events.Null(2); else events.String(2, note);
                events.EndRow();
            }
            return Task.CompletedTask;
        }));
        // The printing sink never offers the buffers; the engine's sink does for a flat stream whose rows are not recorded.
        Assert.Equal([("EngineSink", direct), ("SingerJsonSink", false)], offered);
        Assert.True(typed.Succeeded, typed.Log.Error);
        Assert.Equal(100, typed.Log.Streams["events"].Records);

        // Row 50 is abandoned half-way and given again value by value: what it had appended must not stay.
        static bool WriteDirect(DirectRows rows, int i, DateTime at, string? note)
        {
            var buffers = rows.BeginRow();
            Assert.True(buffers[0].Leaf.Type.TryAppend(buffers[0], (long)i, 0));
            if (i == 50)
            {
                rows.AbandonRow();
                return false;
            }
            Assert.True(buffers[1].Leaf.Type.TryAppendInstant(buffers[1], at, 0));
            if (note is null) buffers[2].AddNull(0, 0);
            else Assert.True(buffers[2].Leaf.Type.TryAppendUtf8(buffers[2], System.Text.Encoding.UTF8.GetBytes(note), 0));
            rows.EndRow();
            return true;
        }
    }

    [Theory]
    [InlineData(InvalidRecordPolicy.Skip)]
    [InlineData(InvalidRecordPolicy.Quarantine)]
    [InlineData(InvalidRecordPolicy.Fail)]
    public async Task Invalid_values_are_rejected_with_the_messages_and_lines_of_the_JSON_path(InvalidRecordPolicy policy)
    {
        var (typed, _) = await TypedSourceDifferential.AssertSameLakeAsync(
            Pipeline(p => p with { OnInvalidRecord = policy }), () => Scripted(InvalidRowsAsync));
        if (policy == InvalidRecordPolicy.Fail)
        {
            Assert.False(typed.Succeeded);
            Assert.Contains("line 14", typed.Log.Error, StringComparison.Ordinal);
            return;
        }
        Assert.True(typed.Succeeded, typed.Log.Error);
        Assert.Equal(9, typed.Log.Streams["all"].Rejected);
    }

    [Theory]
    [InlineData(InvalidRecordPolicy.Skip)]
    [InlineData(InvalidRecordPolicy.Quarantine)]
    public async Task Partition_by_a_date_time_column_takes_each_row_partition_from_its_typed_value(InvalidRecordPolicy policy)
    {
        var (typed, _) = await TypedSourceDifferential.AssertSameLakeAsync(
            Pipeline(p => p with { OnInvalidRecord = policy, Destination = p.Destination with { PartitionBy = "at" } }), () => Scripted(InvalidRowsAsync));
        Assert.True(typed.Succeeded, typed.Log.Error);
    }

    [Fact]
    public async Task A_select_drop_rename_map_reads_typed_rows_through_the_projection()
    {
        var transforms = new Dictionary<string, JsonNode?>
        {
            ["all"] = JsonNode.Parse("""{"drop": ["ratio", "blob"], "rename": {"name": "full_name", "id": "all_id"}}"""),
            ["events"] = JsonNode.Parse("""{"select": ["at", "id"]}"""),
        };
        var (typed, _) = await TypedSourceDifferential.AssertSameLakeAsync(
            Pipeline(p => p with { Transforms = transforms, OnInvalidRecord = InvalidRecordPolicy.Quarantine }), () => Scripted(InvalidRowsAsync));
        Assert.True(typed.Succeeded, typed.Log.Error);
    }

    [Fact]
    public async Task A_record_transform_takes_the_rows_printed_as_records()
    {
        var transforms = new Dictionary<string, JsonNode?>
        {
            ["all"] = JsonNode.Parse("""{"filter": "id != 3", "compute": {"twice": "id * 2"}, "cast": {"mixed": "string"}}"""),
        };
        var (typed, _) = await TypedSourceDifferential.AssertSameLakeAsync(
            Pipeline(p => p with { Transforms = transforms, OnInvalidRecord = InvalidRecordPolicy.Skip }), () => Scripted((s, ct) => InvalidRowsAsync(s, ct, duplicate: false)));
        Assert.True(typed.Succeeded, typed.Log.Error);
        Assert.Equal(1, typed.Log.Streams["all"].Filtered);
    }

    [Fact]
    public async Task A_code_source_lands_its_records_as_the_printed_records_would()
    {
        static async IAsyncEnumerable<JsonObject> Records()
        {
            yield return JsonNode.Parse("""{"id": 1, "amount": 10.50, "ratio": 1e2, "flag": true, "name": "a", "day": "2024-01-02", "at": "2024-01-02T03:04:05.123456789Z", "doc": {"a": 1, "zz": 2}, "tags": ["x"], "any": {"q": [1]}, "exact": 3, "mixed": 1.0}""")!.AsObject();
            yield return new JsonObject { ["id"] = 2, ["ratio"] = 0.1, ["name"] = "ü\u2028", ["at"] = new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc), ["amount"] = 3.25m, ["mixed"] = -0.0, ["undeclared"] = 1 };
            yield return new JsonObject { ["id"] = 3, ["name"] = null, ["t"] = "10:11:12", ["exact"] = 12345678901234567L };
            await Task.CompletedTask;
        }
        var (typed, _) = await TypedSourceDifferential.AssertSameLakeAsync(
            Pipeline(p => p with { OnInvalidRecord = InvalidRecordPolicy.Quarantine }),
            () => new CodeSource("code").AddStream("all", AllTypesSchema, Records(), ["id"]).WithState(new JsonObject { ["done"] = true }),
            printedPlace: ("stream 'all', line 4:", "stream 'all', record 3:"));
        Assert.True(typed.Succeeded, typed.Log.Error);
        Assert.Equal(1, typed.Log.Streams["all"].Rejected); // 12345678901234567 does not fit a double exactly
        // Its typed string with nanoseconds is counted as the printed text is (the differential compares the notices).
        Assert.Contains("stream 'all' column 'at': 1 value(s) with nanoseconds landed cut to the microsecond (the lake's timestamps and times hold microseconds)",
            typed.Log.Notices);
    }

    [Fact]
    public async Task An_engine_error_stops_a_typed_tap_and_is_the_run_error()
    {
        using var lake = new TempLake();
        var result = await new Pipe.Runs.PipelineRunner(new Pipe.Storage.ObjectStoreFactory()).RunAsync(
            Pipeline()(lake.Bucket),
            new Pipe.Runs.RunOptions
            {
                Source = Scripted(async (sink, ct) =>
                {
                    var rows = sink.WriteSchema("all", AllTypesSchema, ["id"]);
                    for (var i = 0; ; i++)
                    {
                        rows.BeginRow();
                        rows.Long(Id, i);
                        if (i == 1000) rows.String(Day, "never");
                        rows.EndRow();
                        await sink.FlushIfFullAsync(ct);
                    }
                }),
            },
            CancellationToken.None);
        Assert.False(result.Succeeded);
        Assert.Equal("stream 'all', line 1002: field 'day': 'never' is not an ISO-8601 date (set on_invalid_record: skip or quarantine to keep going)", result.Log.Error);
        Assert.Equal(1, result.Log.Tap.ExitCode);
    }

    [Fact]
    public async Task A_typed_tap_that_keeps_writing_rows_is_active_and_one_that_goes_quiet_is_stopped_by_the_idle_timeout()
    {
        static Func<RecordSink, CancellationToken, Task> Slow(bool quietAfterFirst) => async (sink, ct) =>
        {
            var rows = sink.WriteSchema("all", AllTypesSchema, ["id"]);
            for (var i = 0; i < 12; i++)
            {
                if (i == 1 && quietAfterFirst) await Task.Delay(Timeout.Infinite, ct);
                rows.BeginRow();
                rows.Long(Id, i);
                rows.EndRow();
                await sink.FlushIfFullAsync(ct);
                await Task.Delay(200, ct);
            }
        };
        using var lake = new TempLake();
        var pipeline = Pipeline(p => p with { Source = p.Source with { IdleTimeout = TimeSpan.FromSeconds(2) } })(lake.Bucket);

        var active = await new Pipe.Runs.PipelineRunner(new Pipe.Storage.ObjectStoreFactory()).RunAsync(
            pipeline, new Pipe.Runs.RunOptions { Source = Scripted(Slow(quietAfterFirst: false)) }, CancellationToken.None);
        Assert.True(active.Succeeded, active.Log.Error);
        Assert.Equal(12, active.Log.TotalRecords);

        var quiet = await new Pipe.Runs.PipelineRunner(new Pipe.Storage.ObjectStoreFactory()).RunAsync(
            pipeline, new Pipe.Runs.RunOptions { Source = Scripted(Slow(quietAfterFirst: true)) }, CancellationToken.None);
        Assert.False(quiet.Succeeded);
        Assert.StartsWith("the tap sent nothing for source.idle_timeout (2s) and was stopped", quiet.Log.Error, StringComparison.Ordinal);
        Assert.Equal(1, quiet.Log.Tap.ExitCode);
        Assert.Equal("scripted tap: cancelled", quiet.Log.Tap.StderrTail);
    }
}

using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

public sealed class CsvTapTests : IDisposable
{
    private readonly TapHarness _h = new();

    public void Dispose() => _h.Dispose();

    private const string Orders =
        "id,amount,paid,day,created_at,note,code\n" +
        "1,10.50,true,2024-01-02,2024-01-02T10:00:00Z,\"hello, \"\"world\"\"\",007\n" +
        "2,3,false,2024-01-03,2024-01-03 11:30:00,ünïcode ✓,012\n" +
        "3,,TRUE,,2024-01-04T12:00:00+02:00,,100\n";

    [Fact]
    public async Task Csv_tap_infers_integer_number_boolean_date_datetime_and_string_columns()
    {
        _h.Write("in/orders.csv", Orders);
        var output = await _h.SyncAsync("csv", new JsonObject { ["path"] = _h.Path("in") });

        var props = output.Schemas["orders"]["properties"]!;
        Assert.Equal("""["null","integer"]""", props["id"]!["type"]!.ToJsonString());
        Assert.Equal("""["null","number"]""", props["amount"]!["type"]!.ToJsonString());
        Assert.Equal("""["null","boolean"]""", props["paid"]!["type"]!.ToJsonString());
        Assert.Equal("date", (string)props["day"]!["format"]!);
        Assert.Equal("date-time", (string)props["created_at"]!["format"]!);
        Assert.Equal("""["null","string"]""", props["note"]!["type"]!.ToJsonString());
        Assert.Null(props["code"]!["format"]);
        Assert.Equal("""["null","string"]""", props["code"]!["type"]!.ToJsonString());

        var rows = output.Records("orders").ToList();
        Assert.Equal(3, rows.Count);
        Assert.Equal("""{"id":1,"amount":10.5,"paid":true,"day":"2024-01-02","created_at":"2024-01-02T10:00:00.000000Z","note":"hello, \"world\"","code":"007"}""", SingerOutput.Json(rows[0]));
        Assert.Equal("2024-01-03T11:30:00.000000Z", (string)rows[1]["created_at"]!);
        Assert.Equal("ünïcode ✓", (string)rows[1]["note"]!);
        Assert.Equal(3m, rows[1]["amount"]!.GetValue<decimal>());
        Assert.Null(rows[2]["amount"]);
        Assert.Null(rows[2]["day"]);
        Assert.Null(rows[2]["note"]);
        Assert.Equal("2024-01-04T10:00:00.000000Z", (string)rows[2]["created_at"]!);
        Assert.True((bool)rows[2]["paid"]!);
    }

    [Theory]
    [InlineData("2024-01-02T10:00:00.1234567891-0330", "2024-01-02T13:30:00.123456Z")]
    [InlineData("2024-12-31 23:59:59.5+01", "2024-12-31T22:59:59.500000Z")]
    [InlineData("2024-01-01T00:30:00+01:00", "2023-12-31T23:30:00.000000Z")]
    [InlineData("2024-01-02T10:00", "2024-01-02T10:00:00.000000Z")]
    [InlineData("0999-05-06T07:08:09z", "0999-05-06T07:08:09.000000Z")]
    public async Task Date_times_in_any_iso_8601_form_are_normalised_to_utc_microseconds(string cell, string expected)
    {
        _h.Write("in/t.csv", $"at\n{cell}\n");
        var output = await _h.SyncAsync("csv", new JsonObject { ["path"] = _h.Path("in") });
        Assert.Equal("date-time", (string)output.Schemas["t"]["properties"]!["at"]!["format"]!);
        Assert.Equal(expected, (string)output.Records("t").Single()["at"]!);
    }

    [Theory]
    [InlineData("2024-02-30")]
    [InlineData("2024-01-02T25:00:00Z")]
    [InlineData("2024-01-02T10:00:00+2")]
    public async Task Impossible_dates_and_times_are_inferred_as_strings(string cell)
    {
        _h.Write("in/t.csv", $"at\n{cell}\n");
        var output = await _h.SyncAsync("csv", new JsonObject { ["path"] = _h.Path("in") });
        Assert.Null(output.Schemas["t"]["properties"]!["at"]!["format"]);
        Assert.Equal(cell, (string)output.Records("t").Single()["at"]!);
    }

    [Fact]
    public async Task Declared_types_and_key_properties_override_inference()
    {
        _h.Write("in/orders.csv", Orders);
        var config = JsonNode.Parse($$$"""
            {"files": ["{{{_h.Path("in")}}}/*.csv"],
             "streams": [{"name": "sales", "pattern": "orders*.csv", "key_properties": ["id"], "types": {"code": "integer", "id": "string"}}]}
            """)!.AsObject();
        var output = await _h.SyncAsync("csv", config);

        Assert.Equal(["id"], output.KeyProperties["sales"]);
        Assert.Equal("""["null","integer"]""", output.Schemas["sales"]["properties"]!["code"]!["type"]!.ToJsonString());
        var rows = output.Records("sales").ToList();
        Assert.Equal(7, (long)rows[0]["code"]!);
        Assert.Equal("1", (string)rows[0]["id"]!);
    }

    [Fact]
    public async Task Rows_of_a_long_file_arrive_in_order_and_an_error_far_in_the_file_names_its_line()
    {
        // 20,000 rows (many of Sep's buffers), quoted cells across lines, a 300 KB cell, then a bad value on line
        // 20,022 (20 cells take two lines).
        var text = new StringBuilder("id,note\n");
        for (var i = 1; i <= 20_000; i++)
            text.Append(i).Append(',').Append(i % 1000 == 0 ? "\"two\nlines\"" : i == 7777 ? new string('x', 300_000) : "n" + i).Append('\n');
        var good = _h.Write("in/good.csv", text.ToString());
        var output = await _h.SyncAsync("csv", new JsonObject { ["path"] = good });
        var rows = output.Records("good").ToList();
        Assert.Equal(20_000, rows.Count);
        Assert.Equal(Enumerable.Range(1, 20_000).Select(i => (long)i), rows.Select(r => (long)r["id"]!));
        Assert.Equal("two\nlines", (string)rows[999]["note"]!);
        Assert.Equal(300_000, ((string)rows[7776]["note"]!).Length);

        var bad = _h.Write("in/bad.csv", text.Append("x,last\n").ToString());
        var config = JsonNode.Parse($$$"""{"path": "{{{bad}}}", "streams": [{"name": "bad", "types": {"id": "integer"}}]}""")!.AsObject();
        var stderr = await _h.FailAsync("csv", config);
        Assert.Contains("line 20022 column 'id': 'x' is not a valid integer", stderr);
    }

    [Fact]
    public async Task A_value_that_does_not_fit_its_declared_type_fails_naming_file_line_and_column()
    {
        var file = _h.Write("in/bad.csv", "id,qty\n1,2\n2,two\n");
        var config = JsonNode.Parse($$$"""{"path": "{{{file}}}", "streams": [{"name": "bad", "types": {"qty": "integer"}}]}""")!.AsObject();
        var stderr = await _h.FailAsync("csv", config);
        Assert.Contains(file, stderr);
        Assert.Contains("line 3", stderr);
        Assert.Contains("column 'qty'", stderr);
        Assert.Contains("'two' is not a valid integer", stderr);
    }

    [Fact]
    public async Task Files_matching_one_pattern_form_one_stream_and_other_files_a_stream_each()
    {
        _h.Write("in/sales_2024.csv", "id,total\n1,10\n2,20\n");
        _h.Write("in/sales_2025.csv", "total,id,region\n30,3,eu\n");
        _h.Write("in/customers.csv", "id,name\n1,Ann\n");
        var config = JsonNode.Parse($$$"""{"files": ["{{{_h.Path("in")}}}/*.csv"], "streams": [{"name": "sales", "pattern": "sales_*.csv"}]}""")!.AsObject();
        var output = await _h.SyncAsync("csv", config);

        Assert.Equal(["customers", "sales"], output.RecordStreams.Order());
        var sales = output.Records("sales").ToList();
        Assert.Equal([1L, 2L, 3L], sales.Select(r => (long)r["id"]!));
        Assert.Equal("eu", (string)sales[2]["region"]!);
        Assert.Equal(30L, (long)sales[2]["total"]!);
        Assert.Equal(["id", "total", "region"], output.Schemas["sales"]["properties"]!.AsObject().Select(p => p.Key));
    }

    [Fact]
    public async Task Incremental_run_with_the_saved_state_reads_only_new_and_changed_files()
    {
        var a = _h.Write("in/a.csv", "id\n1\n");
        _h.Write("in/b.csv", "id\n2\n");
        var config = new JsonObject { ["path"] = _h.Path("in") };
        var first = await _h.SyncAsync("csv", config);
        Assert.Equal(2, first.Messages.Count(m => (string)m["type"]! == "RECORD"));
        var state = first.LastState!;
        Assert.NotNull(state["bookmarks"]!["a"]!["files"]![a]!["modified"]);

        var unchanged = await _h.SyncAsync("csv", config, state);
        Assert.Empty(unchanged.RecordStreams);
        Assert.Equal(state.ToJsonString(), unchanged.LastState!.ToJsonString());

        _h.Write("in/c.csv", "id\n3\n");
        File.WriteAllText(a, "id\n1\n10\n");
        File.SetLastWriteTimeUtc(a, DateTime.UtcNow.AddMinutes(1));
        var next = await _h.SyncAsync("csv", config, state);
        Assert.Equal(["a", "c"], next.RecordStreams.Order());
        Assert.Equal([1L, 10L], next.Records("a").Select(r => (long)r["id"]!));
        Assert.NotNull(next.LastState!["bookmarks"]!["b"]);
    }

    [Fact]
    public async Task A_source_folder_named_through_a_symlink_holds_the_files_already_read_whichever_spelling_the_state_has()
    {
        var a = _h.Write("in/a.csv", "id\n1\n");
        var link = _h.Path("link");
        Directory.CreateSymbolicLink(link, _h.Path("in"));
        var first = await _h.SyncAsync("csv", new JsonObject { ["path"] = _h.Path("in") });
        Assert.Equal(["a"], first.RecordStreams);

        // The same folder through the symlink: nothing is read again, and the state keeps one entry for the file.
        var throughLink = await _h.SyncAsync("csv", new JsonObject { ["path"] = link }, first.LastState);
        Assert.Empty(throughLink.RecordStreams);
        Assert.Equal([a], throughLink.LastState!["bookmarks"]!["a"]!["files"]!.AsObject().Select(f => f.Key));

        // A state written under the symlink's spelling (as before files were keyed by their resolved path) still counts.
        var earlier = first.LastState!.DeepClone().AsObject();
        var files = earlier["bookmarks"]!["a"]!["files"]!.AsObject();
        var entry = files[a]!.DeepClone();
        files.Remove(a);
        files[Path.Combine(link, "a.csv")] = entry;
        var fromEarlier = await _h.SyncAsync("csv", new JsonObject { ["path"] = _h.Path("in") }, earlier);
        Assert.Empty(fromEarlier.RecordStreams);
    }

    [Fact]
    public async Task Delimiter_no_quoting_latin1_encoding_and_no_header_are_honoured()
    {
        _h.Write("in/t.txt", "1;café;\"x\n2;naïve;y\n", Encoding.Latin1);
        var config = JsonNode.Parse($$"""{"path": "{{_h.Path("in/t.txt")}}", "delimiter": ";", "quote": "", "encoding": "latin1", "header": false}""")!.AsObject();
        var output = await _h.SyncAsync("csv", config);
        var rows = output.Records("t").ToList();
        Assert.Equal("""{"col_1":1,"col_2":"café","col_3":"\"x"}""", SingerOutput.Json(rows[0]));
        Assert.Equal("naïve", (string)rows[1]["col_2"]!);
    }

    [Fact]
    public async Task The_tap_prints_one_state_after_each_stream_read_and_one_when_nothing_is_read()
    {
        _h.Write("in/a.csv", "id\n1\n");
        _h.Write("in/b.csv", "id\n2\n");
        var first = await _h.SyncAsync("csv", new JsonObject { ["path"] = _h.Path("in") });
        var states = first.Messages.Where(m => (string)m["type"]! == "STATE").Select(m => m["value"]!.ToJsonString()).ToList();
        Assert.Equal(2, states.Count);
        Assert.NotEqual(states[0], states[1]);
        Assert.Equal("STATE", (string)first.Messages[^1]["type"]!);

        var again = await _h.SyncAsync("csv", new JsonObject { ["path"] = _h.Path("in") }, first.LastState);
        Assert.Equal([first.LastState!.ToJsonString()], again.Messages.Where(m => (string)m["type"]! == "STATE").Select(m => m["value"]!.ToJsonString()));
    }

    [Fact]
    public async Task A_stream_of_many_files_gets_a_few_states_not_one_per_file_and_the_last_marks_every_file()
    {
        // A STATE holds every file's bookmark: one after each of n files made the tap's output (and a run's time) grow as n².
        for (var i = 0; i < 300; i++) _h.Write($"in/f{i:000}.csv", $"id\n{i}\n");
        var output = await _h.SyncAsync("csv", new JsonObject
        {
            ["path"] = _h.Path("in"),
            ["streams"] = new JsonArray(new JsonObject { ["name"] = "orders", ["pattern"] = "*" }),
        });
        var states = output.Messages.Count(m => (string)m["type"]! == "STATE");
        Assert.InRange(states, 1, 30);
        Assert.Equal("STATE", (string)output.Messages[^1]["type"]!);
        Assert.Equal(300, output.LastState!["bookmarks"]!["orders"]!["files"]!.AsObject().Count);
        Assert.Equal(300, output.Records("orders").Count());
    }

    [Fact]
    public async Task Gzipped_csv_files_are_read()
    {
        var path = _h.Path("in/z.csv.gz");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await using (var gz = new System.IO.Compression.GZipStream(File.Create(path), System.IO.Compression.CompressionLevel.Fastest))
            await gz.WriteAsync("id\n5\n"u8.ToArray());
        var output = await _h.SyncAsync("csv", new JsonObject { ["files"] = new JsonArray(_h.Path("in/*.csv.gz")) });
        Assert.Equal(5L, (long)output.Records("z").Single()["id"]!);
    }

    private static byte[] Gzipped(string text)
    {
        using var memory = new MemoryStream();
        using (var gz = new System.IO.Compression.GZipStream(memory, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
            gz.Write(Encoding.UTF8.GetBytes(text));
        return memory.ToArray();
    }

    [Fact]
    public async Task A_gzipped_file_cut_short_anywhere_fails_naming_it_and_one_of_several_members_is_read_whole()
    {
        // .NET's inflater ends a cut-short file at its last whole bytes without a word: every cut must fail instead.
        var text = string.Concat(Enumerable.Range(1, 400).Select(i => $"{i},name {i}\n"));
        var whole = Gzipped("id,name\n" + text);
        var path = _h.Path("in/cut.csv.gz");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        foreach (var keep in new[] { 10, 40, whole.Length / 2, whole.Length - 8, whole.Length - 5, whole.Length - 1 })
        {
            File.WriteAllBytes(path, whole[..keep]);
            var stderr = await _h.FailAsync("csv", new JsonObject { ["path"] = path });
            Assert.Contains($"csv tap: {path}: the gzip data is cut short or damaged (", stderr);
        }
        File.WriteAllBytes(path, Encoding.UTF8.GetBytes("id,name\n1,not gzip\n"));
        Assert.Contains($"csv tap: {path}: the gzip data is cut short or damaged (", await _h.FailAsync("csv", new JsonObject { ["path"] = path }));

        // Concatenated members (`cat a.gz b.gz`) are one valid file: every row lands.
        File.WriteAllBytes(path, [.. whole, .. Gzipped(text)]);
        var output = await _h.SyncAsync("csv", new JsonObject { ["path"] = path });
        Assert.Equal(800, output.Records("cut").Count());
    }

    [Fact]
    public async Task Discovery_lists_every_stream_and_a_catalog_selects_which_are_synced()
    {
        _h.Write("in/a.csv", "id\n1\n");
        _h.Write("in/b.csv", "id,x\n2,2024-01-01\n");
        var config = new JsonObject { ["path"] = _h.Path("in") };
        var catalog = await _h.DiscoverAsync("csv", config);
        var streams = catalog["streams"]!.AsArray();
        Assert.Equal(["a", "b"], streams.Select(s => (string)s!["tap_stream_id"]!));
        Assert.Equal("date", (string)streams[1]!["schema"]!["properties"]!["x"]!["format"]!);
        Assert.True((bool)streams[0]!["metadata"]![0]!["metadata"]!["selected"]!);

        streams[0]!["metadata"]![0]!["metadata"]!["selected"] = false;
        var output = await _h.SyncAsync("csv", config, catalog: catalog);
        Assert.Equal(["b"], output.RecordStreams);
    }

    [Fact]
    public async Task A_pattern_that_matches_no_file_fails_instead_of_reading_nothing()
    {
        var stderr = await _h.FailAsync("csv", new JsonObject { ["files"] = new JsonArray(_h.Path("missing/*.csv")) });
        Assert.Contains("matches no file", stderr);
    }

    [Fact]
    public async Task Files_in_a_bucket_are_listed_and_read_through_the_object_store()
    {
        var bucketDir = Directory.CreateDirectory(_h.Path("bucket")).FullName;
        _h.Write("bucket/landing/2024/orders.csv", "id,total\n1,9.5\n");
        _h.Write("bucket/landing/2024/skip.json", "{}");
        var stores = new ObjectStoreFactory().Register("s3", (_, _) => new LocalObjectStore(BucketUri.Parse("file://" + bucketDir)));
        var config = JsonNode.Parse("""{"files": ["s3://lake/landing/*/*.csv"]}""")!.AsObject();
        var output = await _h.SyncAsync("csv", config, stores: stores);
        Assert.Equal(9.5m, output.Records("orders").Single()["total"]!.GetValue<decimal>());
        var files = output.LastState!["bookmarks"]!["orders"]!["files"]!.AsObject();
        Assert.Equal("s3://lake/landing/2024/orders.csv", files.Single().Key);
    }

    [Fact]
    public async Task Built_in_source_runs_the_tap_in_process_and_streams_its_singer_lines()
    {
        _h.Write("in/a.csv", "id\n1\n2\n");
        var configPath = _h.Write("config.json", new JsonObject { ["path"] = _h.Path("in") }.ToJsonString());
        Assert.True(BuiltInTaps.TryGet("csv", out var tap));
        var source = new BuiltInSource(tap);
        Assert.Equal("csv", source.DefaultName);
        await using var run = await source.StartAsync(new SourceInvocation { ConfigPath = configPath }, CancellationToken.None);
        using var copy = new MemoryStream();
        await run.Output.CopyToAsync(copy);
        Assert.Equal(0, await run.WaitForExitAsync(CancellationToken.None));
        var output = SingerOutput.Parse(copy.ToArray());
        Assert.Equal([1L, 2L], output.Records("a").Select(r => (long)r["id"]!));
    }

    [Fact]
    public async Task Built_in_source_reports_a_failing_tap_with_exit_code_1_and_the_reason()
    {
        var configPath = _h.Write("config.json", new JsonObject { ["path"] = _h.Path("nothing-here") }.ToJsonString());
        var source = new BuiltInSource(new CsvTap());
        await using var run = await source.StartAsync(new SourceInvocation { ConfigPath = configPath }, CancellationToken.None);
        await run.Output.CopyToAsync(Stream.Null);
        Assert.Equal(1, await run.WaitForExitAsync(CancellationToken.None));
        Assert.Contains("matches no file", run.StderrTail);
    }

    [Fact]
    public async Task Unknown_tap_name_exits_2_and_lists_the_built_in_taps()
    {
        var (exit, _, stderr) = await _h.RunRawAsync("nope", new JsonObject());
        Assert.Equal(2, exit);
        Assert.Contains("csv", stderr);
    }
}

using System.Text;
using System.Text.Json.Nodes;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>Quotes, escapes and lines above the header, read as DuckDB's <c>read_csv</c> reads them (or a located error).</summary>
public sealed class CsvQuotingTests : IDisposable
{
    private readonly TapHarness _h = new();

    public void Dispose() => _h.Dispose();

    private async Task<List<string?[]>> ReadAsync(string content, JsonObject? extra = null, string stream = "t")
    {
        var config = new JsonObject { ["path"] = _h.Write($"in/{stream}.csv", content) };
        foreach (var (key, value) in extra ?? []) config[key] = value?.DeepClone();
        var output = await _h.SyncAsync("csv", config);
        var names = ((JsonObject)output.Schemas[stream]["properties"]!).Select(p => p.Key).ToList();
        return output.Records(stream).Select(r => names.Select(n => r[n]?.ToString()).ToArray()).ToList();
    }

    private async Task<string> FailAsync(string content, JsonObject? extra = null)
    {
        var config = new JsonObject { ["path"] = _h.Write("in/t.csv", content) };
        foreach (var (key, value) in extra ?? []) config[key] = value?.DeepClone();
        return await _h.FailAsync("csv", config);
    }

    [Fact]
    public async Task A_quote_inside_an_unquoted_field_is_a_literal_character_and_rows_never_fuse()
    {
        var rows = await ReadAsync("sku,desc,qty\nA1,TV 55\" OLED,1\nA2,Cable,2\nA3,Monitor 27\" IPS,3\nA4,Mouse,4\n");
        Assert.Equal([["A1", "TV 55\" OLED", "1"], ["A2", "Cable", "2"], ["A3", "Monitor 27\" IPS", "3"], ["A4", "Mouse", "4"]], rows);

        rows = await ReadAsync("a,b,c\n1,ab\"c,2\n3,5'10\",4\n", stream: "stray");
        Assert.Equal([["1", "ab\"c", "2"], ["3", "5'10\"", "4"]], rows);
    }

    [Fact]
    public async Task The_end_of_the_file_inside_a_quoted_field_fails_naming_where_the_quote_opened()
    {
        var stderr = await FailAsync("id,note\n1,\"abc\n2,def\n");
        Assert.Contains("t.csv line 2 column 3: the quoted field opened here", stderr);
        Assert.Contains("never closed", stderr);
    }

    [Fact]
    public async Task Backslash_escaped_quotes_are_sniffed_as_duckdb_does_and_can_be_configured()
    {
        var rows = await ReadAsync("id,note\n1,\"say \\\"hi\\\"\"\n2,\"he said \\\"no\\\", then left\"\n");
        Assert.Equal([["1", "say \"hi\""], ["2", "he said \"no\", then left"]], rows);

        // A backslash before the closing quote (a Windows path) is literal when the file does not escape with it.
        rows = await ReadAsync("id,path\n1,\"C:\\dir\\\"\n", stream: "paths");
        Assert.Equal([["1", "C:\\dir\\"]], rows);

        rows = await ReadAsync("id,note\n1,\"a \\\\ b \\\"c\\\"\"\n", new JsonObject { ["escape"] = "\\" }, stream: "declared");
        Assert.Equal([["1", "a \\ b \"c\""]], rows);
    }

    [Fact]
    public async Task Text_after_a_closing_quote_fails_naming_line_and_column()
    {
        var stderr = await FailAsync("a,b,c\n1,\"ab\"c,2\n");
        Assert.Contains("t.csv line 2 column 7: 'c' follows the closing quote of the field opened at line 2 column 3", stderr);
        Assert.Contains("written twice", stderr);
        Assert.Contains("set quote: \"\" if the file does not quote fields", stderr);

        // Beyond the sample, a \" is not sniffed: the error says how to declare the escape.
        var text = new StringBuilder("id,note\n");
        for (var i = 0; i < 30; i++) text.Append(i).Append(",\"n\"\n");
        text.Append("30,\"say \\\"hi\\\"\"\n");
        stderr = await FailAsync(text.ToString(), new JsonObject { ["sample_rows"] = 5 });
        Assert.Contains("line 32 column 11: 'h' follows the closing quote", stderr);
        Assert.Contains("set escape: \"\\\\\"", stderr);
    }

    [Fact]
    public async Task Spaces_around_a_quoted_field_are_dropped()
    {
        var rows = await ReadAsync("id,v,n\n1,\"abc\" ,2\n2, \"def\",3\n3, x ,4\n");
        Assert.Equal([["1", "abc", "2"], ["2", "def", "3"], ["3", " x ", "4"]], rows);
    }

    [Fact]
    public async Task Another_quote_character_can_be_configured()
    {
        var rows = await ReadAsync("id,v\n1,'a,b'\n2,'it''s'\n", new JsonObject { ["quote"] = "'" });
        Assert.Equal([["1", "a,b"], ["2", "it's"]], rows);
    }

    [Fact]
    public async Task A_field_count_error_from_a_quote_names_the_likely_cause_and_the_quote_key()
    {
        var stderr = await FailAsync("id,v\n1,'a,b'\n");
        Assert.Contains("line 2: 3 fields where the header has 2 (field 2 starts with ': is it the file's quote? set quote: \"'\")", stderr);

        stderr = await FailAsync("id,v\n1,\"a\n2,b\n3,c\",x\n");
        Assert.Contains("line 2: 3 fields where the header has 2 (a quoted field runs from line 2 to line 4: a stray quote? set quote: \"\"", stderr);
    }

    [Fact]
    public async Task Lines_above_the_header_are_skipped_with_skip_rows_or_comment_and_named_in_the_error()
    {
        const string Titled = "Sales report\n\nid,name,amount\n1,Ann,2.5\n2,Bo,3\n";
        var stderr = await FailAsync(Titled);
        Assert.Contains("line 3: 3 fields where the header has 1 (the header has 1 field: a title or comment line above it? set skip_rows: or comment:", stderr);

        var rows = await ReadAsync(Titled, new JsonObject { ["skip_rows"] = 2 });
        Assert.Equal([["1", "Ann", "2.5"], ["2", "Bo", "3"]], rows);

        rows = await ReadAsync("# exported by SAP 2024-01-01\n# rows: 2\nid,name\n1,Ann\n# a note\n2,Bo\n", new JsonObject { ["comment"] = "#" }, stream: "commented");
        Assert.Equal([["1", "Ann"], ["2", "Bo"]], rows);
    }

    [Fact]
    public async Task A_comment_line_indented_by_spaces_or_tabs_is_skipped_as_duckdb_skips_it()
    {
        var rows = await ReadAsync("  # exported; by; tool\nid,name\n1,a\n  # a note, with a comma\n\t# tabbed; note\n2,b\n \t # mixed, 1\n3,c\n",
            new JsonObject { ["comment"] = "#" });
        Assert.Equal([["1", "a"], ["2", "b"], ["3", "c"]], rows);

        // The indentation of the comment line runs past the reader's 64 Ki-character buffer.
        var first = "id,name\n1," + new string('x', (1 << 16) - 13) + "\n";
        rows = await ReadAsync(first + "        # note, x\n2,b\n", new JsonObject { ["comment"] = "#" }, stream: "long");
        Assert.Equal(["1", "2"], rows.Select(r => r[0]));
    }

    [Fact]
    public async Task The_delimiter_is_sniffed_on_the_rows_read_not_on_the_lines_skip_rows_or_comment_skip()
    {
        // Four preamble lines of three ';'-fields outnumber the three ','-rows of the data.
        const string Preamble = "# exported by; tool; v1\n# rows; 2; ok\n# a;b;c\n# d;e;f\nid,name\n1,a\n2,b\n";
        var rows = await ReadAsync(Preamble, new JsonObject { ["comment"] = "#" });
        Assert.Equal([["1", "a"], ["2", "b"]], rows);

        rows = await ReadAsync(Preamble, new JsonObject { ["skip_rows"] = 4 }, stream: "skipped");
        Assert.Equal([["1", "a"], ["2", "b"]], rows);

        rows = await ReadAsync("title;x;y\r# c;d;e\r# f;g;h\rid,n\r1,a\r", new JsonObject { ["skip_rows"] = 1, ["comment"] = "#" }, stream: "both");
        Assert.Equal([["1", "a"]], rows);
    }

    [Theory]
    [InlineData("""{"comment": "\"", "delimiter": ","}""", "quote and comment are both '\"'")]
    [InlineData("""{"comment": "|", "delimiter": "|"}""", "delimiter and comment are both '|'")]
    [InlineData("""{"quote": "|", "delimiter": "|"}""", "delimiter and quote are both '|'")]
    [InlineData("""{"escape": ",", "delimiter": ","}""", "delimiter and escape are both ','")]
    [InlineData("""{"escape": "#", "comment": "#"}""", "escape and comment are both '#'")]
    [InlineData("""{"delimiter": "\n"}""", "delimiter is \\n")]
    [InlineData("""{"quote": "\r"}""", "quote is \\r")]
    public async Task Config_characters_that_collide_or_break_lines_are_refused(string extra, string named)
    {
        var stderr = await FailAsync("id,note\n\"1\",x\n", JsonNode.Parse(extra)!.AsObject());
        Assert.Contains("config keys quote, escape, comment and delimiter must differ; none may be a line break (" + named + ")", stderr);
    }

    [Fact]
    public async Task An_escape_equal_to_the_quote_is_the_default_and_skip_rows_reads_a_number_written_as_text()
    {
        var rows = await ReadAsync("title\nid,v\n1,\"a\"\"b\"\n", new JsonObject { ["escape"] = "\"", ["skip_rows"] = "1" });
        Assert.Equal([["1", "a\"b"]], rows);
    }

    [Fact]
    public async Task A_crlf_in_a_quoted_field_across_the_read_buffer_counts_as_one_line()
    {
        // The \r of the quoted field's \r\n is the read buffer's last character (64K chars), its \n the next buffer's first.
        var text = new StringBuilder("id,note\n1,\"");
        text.Append('x', (1 << 16) - 1 - text.Length).Append("\r\ny\"\n2,b\n3,\"ab\"c\n");
        var stderr = await FailAsync(text.ToString());
        Assert.Contains("t.csv line 5 column 7: 'c' follows the closing quote of the field opened at line 5 column 3", stderr);
    }

    [Theory]
    [InlineData("\r")]
    [InlineData("\r\n")]
    [InlineData("\n")]
    public async Task An_encoding_error_is_placed_on_its_line_whatever_the_line_ends(string lineEnd)
    {
        Directory.CreateDirectory(_h.Path("in"));
        var path = _h.Path("in/t.csv");
        File.WriteAllBytes(path, [.. Encoding.UTF8.GetBytes($"id,note{lineEnd}1,a{lineEnd}2,caf"), 0xE9, .. Encoding.UTF8.GetBytes(lineEnd)]);
        var stderr = await _h.FailAsync("csv", new JsonObject { ["path"] = path });
        Assert.Contains("t.csv line 3 column 6: encoding: bytes 0xE9 are not valid utf-8", stderr);

        // Columns count UTF-16 units, as the reader's quote errors do: each emoji is two.
        File.WriteAllBytes(path, [.. Encoding.UTF8.GetBytes($"id,note{lineEnd}\U0001F600\U0001F600,"), 0xE9, .. Encoding.UTF8.GetBytes(lineEnd)]);
        stderr = await _h.FailAsync("csv", new JsonObject { ["path"] = path });
        Assert.Contains("t.csv line 2 column 6: encoding", stderr);
    }

    [Fact]
    public async Task An_escaped_quote_ending_a_value_is_sniffed_too()
    {
        // \"" reads as \ and a doubled quote without the escape: the field runs on and fails later, not right after \".
        var rows = await ReadAsync("id,height\n1,\"6'2\\\"\"\n2,\"x\"\n");
        Assert.Equal([["1", "6'2\""], ["2", "x"]], rows);

        rows = await ReadAsync("c0\r\"l1\r\nl2\"\r\"abc\\\"\"\r", new JsonObject { ["delimiter"] = ";", ["header"] = true }, stream: "cr");
        Assert.Equal([["l1\r\nl2"], ["abc\""]], rows);
    }

    [Fact]
    public async Task With_an_escape_a_quote_written_twice_is_one_quote_and_a_sniffed_escape_is_named_in_errors()
    {
        const string Both = "id,note\n1,\"say \\\"hi\\\"\"\n2,\"a\"\"b\"\n";
        Assert.Equal([["1", "say \"hi\""], ["2", "a\"b"]], await ReadAsync(Both));
        Assert.Equal([["1", "say \"hi\""], ["2", "a\"b"]], await ReadAsync(Both, new JsonObject { ["escape"] = "\\" }, stream: "declared"));

        var stderr = await FailAsync("id,note\n1,\"say \\\"hi\\\"\"\n2,\"ab\"c\n");
        Assert.Contains("t.csv line 3 column 7: 'c' follows the closing quote of the field opened at line 3 column 3", stderr);
        Assert.Contains("(the escape \\ was sniffed from line 2, where a quoted field holds \\\"; set escape: \"\\\"\" if quotes are only written twice)", stderr);

        // Past the sample too.
        var text = new StringBuilder("id,note\n1,\"say \\\"hi\\\"\"\n");
        for (var i = 2; i < 30; i++) text.Append(i).Append(",\"n\"\n");
        text.Append("30,\"ab\"c\n");
        stderr = await FailAsync(text.ToString(), new JsonObject { ["sample_rows"] = 5 });
        Assert.Contains("line 31 column 8: 'c' follows the closing quote", stderr);
        Assert.Contains("the escape \\ was sniffed from line 2", stderr);
    }

    [Fact]
    public async Task The_sample_stops_at_its_character_cap_so_long_text_rows_do_not_fill_memory()
    {
        // Two rows of long text fill the sample: the third row's id is past it, so the column is typed from 1 and 2.
        var half = new string('x', (int)(DataSpoc.Pipe.Sources.BuiltIn.CsvTable.SampleChars / 2));
        var stderr = await FailAsync($"id,body\n1,{half}\n2,{half}\nthree,short\n");
        Assert.Contains("t.csv line 4 column 'id': 'three' is not a valid integer", stderr);
    }
}

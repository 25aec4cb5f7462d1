using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>
/// The csv tap reads real-world files as DuckDB's <c>read_csv</c> sniffer does: each file of Assets/csv-corpus
/// (semicolon, tab and pipe delimiters, quoted delimiters and line breaks, no header, BOM, CRLF, dates in several
/// formats, thousands separators, booleans as words, times) lands in the lake with the same columns, types and
/// values as <c>read_csv('&lt;file&gt;')</c> with auto-detection gives. Timestamps compare as UTC instants: the lake
/// stores every date-time UTC-adjusted and takes one without an offset as UTC.
/// </summary>
public sealed class CsvCorpusTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    private readonly TempLake _lake = new();
    private readonly TapHarness _h = new();

    public void Dispose()
    {
        _lake.Dispose();
        _h.Dispose();
    }

    public static TheoryData<string> CorpusFiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(TempLake.Asset("csv-corpus"), "*.csv").Order(StringComparer.Ordinal)) data.Add(Path.GetFileName(file));
        return data;
    }

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public async Task A_corpus_file_lands_with_the_columns_types_and_values_duckdb_reads(string name)
    {
        var file = TempLake.Asset(Path.Combine("csv-corpus", name));
        var stream = Path.GetFileNameWithoutExtension(name);
        await RunAsync(stream, new JsonObject { ["path"] = file });

        var actual = Read($"read_parquet('{{lake}}/raw/csv/{stream}/*/*.parquet', hive_partitioning = false)");
        // Whole numbers beyond a long land exact as DECIMAL(38,0) where DuckDB's sniffer reads a rounded DOUBLE: DuckDB
        // reads such a column as HUGEINT for the comparison.
        var wholeBeyondLong = _lake.Query($"select column_name from (describe select * from read_parquet('{{lake}}/raw/csv/{stream}/*/*.parquet', hive_partitioning = false)) where column_type = 'DECIMAL(38,0)'")
            .Select(c => $"'{c[0]!.Replace("'", "''", StringComparison.Ordinal)}': 'HUGEINT'").ToList();
        var expected = Read(wholeBeyondLong.Count == 0 ? $"read_csv('{file}')" : $"read_csv('{file}', types = {{{string.Join(", ", wholeBeyondLong)}}})");
        output.WriteLine($"duckdb: {string.Join(", ", expected.Columns)}");
        output.WriteLine($"lake:   {string.Join(", ", actual.Columns)}");
        Assert.Equal(expected.Columns, actual.Columns);
        Assert.Equal(expected.Rows.Count, actual.Rows.Count);
        for (var r = 0; r < expected.Rows.Count; r++)
            Assert.True(expected.Rows[r].SequenceEqual(actual.Rows[r]),
                $"{name} row {r + 1}: duckdb [{string.Join(" | ", expected.Rows[r])}] lake [{string.Join(" | ", actual.Rows[r])}]");
    }

    [Theory]
    [InlineData("value", "id,note\n1,plain\n2,caf\xE9 au lait\n", 3, 6)]
    [InlineData("column name", "id,caf\xE9\n1,x\n", 1, 7)]
    [InlineData("gzipped file", "id,note\n1,ok\n2,ok\n3,na\xEFve\n", 4, 5)]
    public async Task A_byte_invalid_in_the_encoding_fails_naming_file_line_column_and_encoding(string what, string latin1, int line, int column)
    {
        _ = what;
        var path = what == "gzipped file" ? WriteGzip("in/bad.csv.gz", Encoding.Latin1.GetBytes(latin1)) : _h.Write("in/bad.csv", latin1, Encoding.Latin1);

        var stderr = await _h.FailAsync("csv", new JsonObject { ["path"] = path });

        output.WriteLine(stderr);
        Assert.Contains(path, stderr);
        Assert.Contains($"line {line} column {column}", stderr);
        Assert.Contains("encoding:", stderr);
        Assert.Contains("not valid utf-8", stderr);
        Assert.DoesNotContain("\uFFFD", stderr);
    }

    [Fact]
    public async Task An_invalid_byte_far_into_a_file_is_located_after_the_sample()
    {
        var text = new StringBuilder("id,note\n");
        for (var i = 1; i <= 5000; i++) text.Append(i).Append(",row ").Append(i).Append('\n');
        text.Append("5001,bad \xE9 byte\n");
        var path = _h.Write("in/late.csv", text.ToString(), Encoding.Latin1);

        var stderr = await _h.FailAsync("csv", new JsonObject { ["path"] = path, ["sample_rows"] = 10 });

        Assert.Contains("line 5002 column 10", stderr);
        Assert.Contains("encoding:", stderr);
    }

    [Theory]
    [InlineData("latin-1")]
    [InlineData("iso-8859-1")]
    [InlineData("windows-1252")]
    public async Task The_encoding_option_reads_a_single_byte_file_names_and_values_exactly(string encoding)
    {
        var bytes = Encoding.Latin1.GetBytes("id;café;prix\n1;crème brûlée;3,50\n2;naïve;4\n");
        Directory.CreateDirectory(_h.Path("in"));
        File.WriteAllBytes(_h.Path("in/menu.csv"), bytes);

        await RunAsync("menu", new JsonObject { ["path"] = _h.Path("in/menu.csv"), ["encoding"] = encoding });

        Assert.Equal([["1", "crème brûlée", "3,50"], ["2", "naïve", "4"]],
            _lake.Query("select id, \"café\", prix from read_parquet('{lake}/raw/csv/menu/*/*.parquet') order by id"));
    }

    [Fact]
    public async Task Windows_1252_reads_the_euro_sign_where_latin_1_has_a_control_character()
    {
        Directory.CreateDirectory(_h.Path("in"));
        File.WriteAllBytes(_h.Path("in/prices.csv"), [.. "id,price\n1,"u8, 0x80, .. "5\n"u8]);

        await RunAsync("prices", new JsonObject { ["path"] = _h.Path("in/prices.csv"), ["encoding"] = "windows-1252" });

        Assert.Equal([["1", "€5"]], _lake.Query("select id, price from read_parquet('{lake}/raw/csv/prices/*/*.parquet')"));
    }

    [Fact]
    public async Task Latin_1_refuses_the_c1_control_bytes_of_a_windows_1252_file_naming_line_column_and_windows_1252()
    {
        Directory.CreateDirectory(_h.Path("in"));
        var path = _h.Path("in/prices.csv");
        File.WriteAllBytes(path, [.. "id,price\n1,"u8, 0x80, .. "5\n"u8]);

        var stderr = await _h.FailAsync("csv", new JsonObject { ["path"] = path, ["encoding"] = "latin-1" });

        output.WriteLine(stderr);
        Assert.Contains($"{path} line 2 column 3: encoding: byte 0x80 is a C1 control character in latin-1", stderr);
        Assert.Contains("set encoding: windows-1252", stderr);
    }

    [Theory]
    [InlineData("utf-16le", new byte[] { 0xFF, 0xFE })]
    [InlineData("utf-16be", new byte[] { 0xFE, 0xFF })]
    public async Task A_utf_16_file_with_a_byte_order_mark_is_read_as_utf_16_without_an_encoding(string encoding, byte[] mark)
    {
        Directory.CreateDirectory(_h.Path("in"));
        File.WriteAllBytes(_h.Path("in/menu.csv"), [.. mark, .. Encoding.GetEncoding(encoding).GetBytes("id,dish\n1,café\n2,naïve €\n")]);

        await RunAsync("menu", new JsonObject { ["path"] = _h.Path("in/menu.csv") });

        Assert.Equal([["1", "café"], ["2", "naïve €"]], _lake.Query("select id, dish from read_parquet('{lake}/raw/csv/menu/*/*.parquet') order by id"));
    }

    [Theory]
    [InlineData("utf-8")]
    [InlineData("latin-1")]
    public async Task Utf_16_text_without_a_byte_order_mark_fails_located_naming_utf_16_instead_of_landing_nul_bytes(string encoding)
    {
        Directory.CreateDirectory(_h.Path("in"));
        var path = _h.Path("in/u16.csv");
        File.WriteAllBytes(path, Encoding.Unicode.GetBytes("id,name\n1,ab\n2,cd\n"));

        var stderr = await _h.FailAsync("csv", new JsonObject { ["path"] = path, ["encoding"] = encoding });

        output.WriteLine(stderr);
        Assert.Contains($"{path} line 1 column 2: encoding: NUL bytes", stderr);
        Assert.Contains("the file looks like UTF-16 (set encoding: utf-16le)", stderr);

        File.WriteAllBytes(path, Encoding.BigEndianUnicode.GetBytes("id,name\n1,ab\n2,cd\n"));
        stderr = await _h.FailAsync("csv", new JsonObject { ["path"] = path, ["encoding"] = encoding });
        Assert.Contains($"{path} line 1 column 1: encoding: NUL bytes", stderr);
        Assert.Contains("the file looks like UTF-16 (set encoding: utf-16be)", stderr);
    }

    [Theory]
    [InlineData("utf-16le")]
    [InlineData("utf-16be")]
    public async Task A_utf_16_file_without_a_byte_order_mark_is_read_as_utf_16_without_an_encoding(string encoding)
    {
        Directory.CreateDirectory(_h.Path("in"));
        File.WriteAllBytes(_h.Path("in/plain.csv"), Encoding.GetEncoding(encoding).GetBytes("id,dish\n1,café\n2,naïve €\n"));

        await RunAsync("plain", new JsonObject { ["path"] = _h.Path("in/plain.csv") });

        Assert.Equal([["1", "café"], ["2", "naïve €"]], _lake.Query("select id, dish from read_parquet('{lake}/raw/csv/plain/*/*.parquet') order by id"));
    }

    [Fact]
    public async Task A_lone_nul_byte_in_a_value_is_kept_as_duckdb_keeps_it()
    {
        Directory.CreateDirectory(_h.Path("in"));
        File.WriteAllBytes(_h.Path("in/nul.csv"), [.. "id,note\n1,a"u8, 0, .. "b\n2,c\n"u8]);

        await RunAsync("nul", new JsonObject { ["path"] = _h.Path("in/nul.csv") });

        Assert.Equal([["1", "3"], ["2", "1"]], _lake.Query("select id, length(note) from read_parquet('{lake}/raw/csv/nul/*/*.parquet') order by id"));
    }

    [Fact]
    public async Task A_decimal_after_the_first_thousand_rows_makes_a_number_column_as_duckdbs_20480_row_sample_does()
    {
        var text = new StringBuilder("id,amount\n");
        for (var i = 1; i <= 2000; i++) text.Append(i).Append(',').Append(i).Append('\n');
        text.Append("2001,2000.5\n");
        _h.Write("in/amounts.csv", text.ToString());

        await RunAsync("amounts", new JsonObject { ["path"] = _h.Path("in/amounts.csv") });

        Assert.Equal([["DOUBLE", "7.0", "2000.5"]],
            _lake.Query("select typeof(amount), cast(amount as varchar), (select cast(amount as varchar) from read_parquet('{lake}/raw/csv/amounts/*/*.parquet') where id = 2001) " +
                "from read_parquet('{lake}/raw/csv/amounts/*/*.parquet') where id = 7"));
    }

    [Fact]
    public async Task Whole_numbers_beyond_a_long_land_exact_as_decimal_38_0_and_beyond_38_digits_as_a_double_with_a_notice()
    {
        const string Digits38 = "12345678901234567890123456789012345678";
        _h.Write("in/ids.csv", "id,big,huge\n" +
            "1,9223372036854775807,1\n" +
            "2,9223372036854775808,123456789012345678901234567890123456789\n" +
            "3,-9223372036854775809,2\n" +
            $"4,{Digits38},3\n" +
            "5,,4\n");

        await RunAsync("ids", new JsonObject { ["path"] = _h.Path("in/ids.csv") });

        Assert.Equal([
                ["1", "DECIMAL(38,0)", "9223372036854775807", "DOUBLE"],
                ["2", "DECIMAL(38,0)", "9223372036854775808", "DOUBLE"],
                ["3", "DECIMAL(38,0)", "-9223372036854775809", "DOUBLE"],
                ["4", "DECIMAL(38,0)", Digits38, "DOUBLE"],
                ["5", "DECIMAL(38,0)", null, "DOUBLE"],
            ],
            _lake.Query("select id, typeof(big), cast(big as varchar), typeof(huge) from read_parquet('{lake}/raw/csv/ids/*/*.parquet') order by id"));
        var (exit, _, stderr) = await _h.RunRawAsync("csv", new JsonObject { ["path"] = _h.Path("in/ids.csv") });
        Assert.Equal(0, exit);
        Assert.Contains("stream 'ids': column 'huge' lands as DOUBLE (it holds whole numbers of more than 38 digits, beyond DECIMAL(38,0)): " +
            "1 sampled whole number(s) past 2^53 are rounded to about 17 digits, the first at " + _h.Path("in/ids.csv") + " line 3: " +
            "123456789012345678901234567890123456789 lands as 1.2345678901234568E+38", stderr);
        Assert.DoesNotContain("column 'big'", stderr);
    }

    [Fact]
    public async Task Whole_numbers_past_2_53_in_a_column_of_decimals_land_rounded_with_a_notice_naming_the_first()
    {
        _h.Write("in/mixed.csv", "id,big\n1,1.5\n2,9007199254740992\n3,9007199254740993\n4,-9223372036854775809\n");
        var (exit, _, stderr) = await _h.RunRawAsync("csv", new JsonObject { ["path"] = _h.Path("in/mixed.csv") });
        Assert.Equal(0, exit);
        Assert.Contains("stream 'mixed': column 'big' lands as DOUBLE (it holds whole numbers and decimals): 2 sampled whole number(s) past 2^53 are rounded " +
            "to about 17 digits, the first at " + _h.Path("in/mixed.csv") + " line 4: 9007199254740993 lands as 9007199254740992", stderr);
    }

    [Fact]
    public async Task A_configured_delimiter_and_header_are_used_as_given()
    {
        // Sniffing would pick ';' and a header; the config says ',' and no header.
        _h.Write("in/given.csv", "a;b,c\n1;2,3\n");
        var result = await _h.SyncAsync("csv", new JsonObject { ["path"] = _h.Path("in/given.csv"), ["delimiter"] = ",", ["header"] = false });
        Assert.Equal(["col_1", "col_2"], result.Schemas["given"]["properties"]!.AsObject().Select(p => p.Key));
        Assert.Equal(2, result.Records("given").Count());
    }

    private async Task RunAsync(string name, JsonObject config)
    {
        var pipeline = new PipelineDefinition
        {
            Name = name.Replace('_', '-'),
            Source = new SourceDefinition { Tap = "csv", InlineConfig = config },
            Destination = new DestinationDefinition { Bucket = _lake.Bucket },
            Incremental = new IncrementalSettings { Enabled = true },
        };
        Assert.True(BuiltInTaps.TryGet("csv", out var tap));
        var result = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(pipeline, new RunOptions { Source = new BuiltInSource(tap) }, CancellationToken.None);
        Assert.True(result.Succeeded, $"run failed: {result.Log.Error} / {result.Log.Tap?.StderrTail}");
    }

    private string WriteGzip(string relative, byte[] content)
    {
        var path = _h.Path(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var gz = new System.IO.Compression.GZipStream(File.Create(path), System.IO.Compression.CompressionLevel.Fastest);
        gz.Write(content);
        return path;
    }

    /// <summary>Column names with a type family, and every row as text (timestamps as UTC instants).</summary>
    private (List<string> Columns, List<List<string?>> Rows) Read(string from)
    {
        var described = _lake.Query($"select column_name, column_type from (describe select * from {from})");
        var columns = described.Select(c => $"{c[0]}:{Family(c[1]!)}").ToList();
        var select = string.Join(", ", described.Select(c =>
        {
            var quoted = "\"" + c[0]!.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
            return Family(c[1]!) == "timestamp" ? $"cast(cast({quoted} as timestamptz) as varchar)" : $"cast({quoted} as varchar)";
        }));
        return (columns, _lake.Query($"select {select} from {from}"));
    }

    private static string Family(string duckDbType) => duckDbType switch
    {
        "BIGINT" or "INTEGER" or "SMALLINT" or "TINYINT" or "HUGEINT" or "DECIMAL(38,0)" => "integer",
        "DOUBLE" or "FLOAT" => "number",
        _ when duckDbType.StartsWith("DECIMAL", StringComparison.Ordinal) => "number",
        _ when duckDbType.StartsWith("TIMESTAMP", StringComparison.Ordinal) => "timestamp",
        _ when duckDbType.StartsWith("TIME", StringComparison.Ordinal) => "time",
        _ => duckDbType.ToLowerInvariant(),
    };
}

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

        var expected = Read($"read_csv('{file}')");
        var actual = Read($"read_parquet('{{lake}}/raw/csv/{stream}/*/*.parquet', hive_partitioning = false)");
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
        "BIGINT" or "INTEGER" or "SMALLINT" or "TINYINT" or "HUGEINT" => "integer",
        "DOUBLE" or "FLOAT" => "number",
        _ when duckDbType.StartsWith("DECIMAL", StringComparison.Ordinal) => "number",
        _ when duckDbType.StartsWith("TIMESTAMP", StringComparison.Ordinal) => "timestamp",
        _ when duckDbType.StartsWith("TIME", StringComparison.Ordinal) => "time",
        _ => duckDbType.ToLowerInvariant(),
    };
}

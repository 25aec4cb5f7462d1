using System.Text.Json.Nodes;
using DataSpoc.Pipe.Tests.Support;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>
/// The csv tap hands the engine typed values; for the same file the lake must be what the Singer JSON text of the
/// cells gives. Each stream below is landed twice: from the csv files, and from the JSON records the csv tap printed
/// before it was typed (kept here verbatim, read through the jsonl tap with the same schema), and DuckDB reads both
/// back: every value and every column type must match.
/// </summary>
public sealed class CsvLakeEquivalenceTests : IDisposable
{
    private readonly TempLake _lake = new();
    private readonly TapHarness _h = new();

    public void Dispose()
    {
        _lake.Dispose();
        _h.Dispose();
    }

    /// <summary>Every column type, the cell forms each accepts (numbers at decimal and double edges, times of one-digit hours and nanoseconds) and every date format.</summary>
    private static readonly Dictionary<string, string> Csv = new()
    {
        ["types"] =
            "id,count,amount,flag,day,at,clock,note\n" +
            "1,42,10.50,true,2024-01-02,2024-01-02T10:00:00.1234567891-0330,7:05,hello\n" +
            "2,-7,-0,FALSE,2024-02-29,2024-12-31 23:59:59.5+01,07:05:09,\"quoted, \"\"text\"\"\"\n" +
            "3,0,.5,t,0001-01-01,2024-01-02T10:00,23:59:59.1234567,  \n" +
            "4, 12 ,00.5,F,9999-12-31,0999-05-06T07:08:09z,00:00:00.5,ünïcode ✓\n" +
            "5,9223372036854775807,1.,yes,,2024-01-02 03:04:05,,\n" +
            "6,-9223372036854775808,1e5,No,2024-12-31,,12:00,x\n" +
            "7,,1.5E-3,y,,2024-03-10T02:30:00+05:45,,y\n" +
            "8,1,12345678901234567890,n,2000-01-01,2024-01-01T00:00:00Z,1:02:03.000001,z\n" +
            "9,2,0.30000000000000004,,2000-01-02,2024-01-01T00:00:00.999999999Z,9:59,\n" +
            "10,3,1234567890.123456789,True,2000-01-03,1970-01-01T00:00:00Z,10:00:00,w\n" +
            "11,4,1.00000000000000000000000000000001,false,2000-01-04,1969-12-31T23:59:59.999999Z,11:11,v\n" +
            "12,5, 7.25 ,Y,2000-01-05,2024-06-30T12:00:00-12:00,12:34:56.789,u\n" +
            "13,6,123456789012345.6,N,2000-01-06,2024-06-30T12:00:00+14:00,13:00,t\n" +
            "14,7,-1234567.0000001,no,2000-01-07,2024-06-30 12:00,14:00,s\n" +
            "15,8,1e-400,YES,2000-01-08,2024-06-30T12:00:00.5Z,15:00,r\n" +
            "16,9,4.9406564584124654e-324,f,2000-01-09,2024-06-30T12:00:00+0530,16:00,q\n" +
            "17,10,1.7976931348623157e308,T,2000-01-10,2024-06-30T12:00:00-03,17:00,p\n",
        ["dmy"] =
            "id,day,at\n" +
            "1,31/12/2024,31/12/2024 23:59:59.5\n" +
            "2,1/2/2024,01/02/2024 00:00:00\n" +
            "3,29/02/2024,29/02/2024 12:34:56.1234567\n" +
            "4,,\n",
        ["mdy"] =
            "id,day\n" +
            "1,12/31/2024\n" +
            "2,02/29/2024\n" +
            "3,1/13/2024\n",
        ["ymd"] =
            "id,day,at\n" +
            "1,2024/12/31,2024/12/31 23:59:59\n" +
            "2,2024/1/2,2024/01/02 01:02:03.04\n",
        ["dots"] =
            "id,day\n" +
            "1,31.12.2024\n" +
            "2,1.2.2024\n" +
            "3,13.01.2024\n",
        ["dashes"] =
            "id,day\n" +
            "1,31-12-2024\n" +
            "2,01-02-2024\n" +
            "3,13-01-2024\n",
        ["declared"] =
            "id,code,n\n" +
            "1,007,00042\n" +
            "2,-0,-0\n" +
            "3, 12 ,9223372036854775807\n" +
            "4,,\n",
    };

    /// <summary>What <c>dataspoc-pipe tap csv</c> printed for <see cref="Csv"/> when cells went out as JSON text (commit 1f9fbfa).</summary>
    private static readonly Dictionary<string, string> JsonRecords = new()
    {
        ["types"] = """
            {"id":1,"count":42,"amount":10.50,"flag":true,"day":"2024-01-02","at":"2024-01-02T13:30:00.123456Z","clock":"07:05","note":"hello"}
            {"id":2,"count":-7,"amount":-0,"flag":false,"day":"2024-02-29","at":"2024-12-31T22:59:59.500000Z","clock":"07:05:09","note":"quoted, \"text\""}
            {"id":3,"count":0,"amount":0.5,"flag":true,"day":"0001-01-01","at":"2024-01-02T10:00:00.000000Z","clock":"23:59:59.1234567","note":"  "}
            {"id":4,"count":12,"amount":0.5,"flag":false,"day":"9999-12-31","at":"0999-05-06T07:08:09.000000Z","clock":"00:00:00.5","note":"ünïcode ✓"}
            {"id":5,"count":9223372036854775807,"amount":1,"flag":true,"day":null,"at":"2024-01-02T03:04:05.000000Z","clock":null,"note":null}
            {"id":6,"count":-9223372036854775808,"amount":100000,"flag":false,"day":"2024-12-31","at":null,"clock":"12:00","note":"x"}
            {"id":7,"count":null,"amount":0.0015,"flag":true,"day":null,"at":"2024-03-09T20:45:00.000000Z","clock":null,"note":"y"}
            {"id":8,"count":1,"amount":12345678901234567890,"flag":false,"day":"2000-01-01","at":"2024-01-01T00:00:00.000000Z","clock":"01:02:03.000001","note":"z"}
            {"id":9,"count":2,"amount":0.30000000000000004,"flag":null,"day":"2000-01-02","at":"2024-01-01T00:00:00.999999Z","clock":"09:59","note":null}
            {"id":10,"count":3,"amount":1234567890.123456789,"flag":true,"day":"2000-01-03","at":"1970-01-01T00:00:00.000000Z","clock":"10:00:00","note":"w"}
            {"id":11,"count":4,"amount":1.0000000000000000000000000000,"flag":false,"day":"2000-01-04","at":"1969-12-31T23:59:59.999999Z","clock":"11:11","note":"v"}
            {"id":12,"count":5,"amount":7.25,"flag":true,"day":"2000-01-05","at":"2024-07-01T00:00:00.000000Z","clock":"12:34:56.789","note":"u"}
            {"id":13,"count":6,"amount":123456789012345.6,"flag":false,"day":"2000-01-06","at":"2024-06-29T22:00:00.000000Z","clock":"13:00","note":"t"}
            {"id":14,"count":7,"amount":-1234567.0000001,"flag":false,"day":"2000-01-07","at":"2024-06-30T12:00:00.000000Z","clock":"14:00","note":"s"}
            {"id":15,"count":8,"amount":0.0000000000000000000000000000,"flag":true,"day":"2000-01-08","at":"2024-06-30T12:00:00.500000Z","clock":"15:00","note":"r"}
            {"id":16,"count":9,"amount":0.0000000000000000000000000000,"flag":false,"day":"2000-01-09","at":"2024-06-30T06:30:00.000000Z","clock":"16:00","note":"q"}
            {"id":17,"count":10,"amount":1.7976931348623157E+308,"flag":true,"day":"2000-01-10","at":"2024-06-30T15:00:00.000000Z","clock":"17:00","note":"p"}
            """,
        ["dmy"] = """
            {"id":1,"day":"2024-12-31","at":"2024-12-31T23:59:59.500000Z"}
            {"id":2,"day":"2024-02-01","at":"2024-02-01T00:00:00.000000Z"}
            {"id":3,"day":"2024-02-29","at":"2024-02-29T12:34:56.123456Z"}
            {"id":4,"day":null,"at":null}
            """,
        ["mdy"] = """
            {"id":1,"day":"2024-12-31"}
            {"id":2,"day":"2024-02-29"}
            {"id":3,"day":"2024-01-13"}
            """,
        ["ymd"] = """
            {"id":1,"day":"2024-12-31","at":"2024-12-31T23:59:59.000000Z"}
            {"id":2,"day":"2024-01-02","at":"2024-01-02T01:02:03.040000Z"}
            """,
        ["dots"] = """
            {"id":1,"day":"2024-12-31"}
            {"id":2,"day":"2024-02-01"}
            {"id":3,"day":"2024-01-13"}
            """,
        ["dashes"] = """
            {"id":1,"day":"2024-12-31"}
            {"id":2,"day":"2024-02-01"}
            {"id":3,"day":"2024-01-13"}
            """,
        ["declared"] = """
            {"id":1,"code":7,"n":42}
            {"id":2,"code":-0,"n":-0}
            {"id":3,"code":12,"n":9223372036854775807}
            {"id":4,"code":null,"n":null}
            """,
    };

    private static JsonObject CsvConfig(string folder) => JsonNode.Parse($$$"""
        {"path": "{{{folder}}}", "streams": [{"name": "declared", "types": {"code": "integer", "n": "number"}}]}
        """)!.AsObject();

    [Fact]
    public async Task Typed_csv_values_land_the_same_lake_as_the_json_text_of_the_same_cells()
    {
        foreach (var (name, text) in Csv) _h.Write($"csv/{name}.csv", text);
        var discovered = await _h.DiscoverAsync("csv", CsvConfig(_h.Path("csv")));
        var jsonStreams = new JsonArray();
        foreach (var entry in discovered["streams"]!.AsArray())
        {
            var stream = (string)entry!["stream"]!;
            _h.Write($"jsonl/{stream}.jsonl", JsonRecords[stream] + "\n");
            jsonStreams.Add((JsonNode)new JsonObject { ["name"] = stream, ["schema"] = entry["schema"]!.DeepClone() });
        }
        Assert.Equal(Csv.Keys.Order(), JsonRecords.Keys.Order());

        await TempLake.RunBuiltInAsync(_lake.BuiltInPipeline("from-csv", "csv", CsvConfig(_h.Path("csv"))));
        await TempLake.RunBuiltInAsync(_lake.BuiltInPipeline("from-json", "jsonl", new JsonObject { ["path"] = _h.Path("jsonl"), ["streams"] = jsonStreams }));

        foreach (var stream in Csv.Keys)
        {
            var typed = $"read_parquet('{{lake}}/raw/csv/{stream}/*/*.parquet', hive_partitioning = false)";
            var json = $"read_parquet('{{lake}}/raw/jsonl/{stream}/*/*.parquet', hive_partitioning = false)";
            Assert.Equal(_lake.Query($"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {json})"),
                _lake.Query($"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {typed})"));
            var expected = _lake.Query($"SELECT * FROM {json} ORDER BY id");
            var actual = _lake.Query($"SELECT * FROM {typed} ORDER BY id");
            Assert.Equal(JsonRecords[stream].Split('\n').Length, actual.Count);
            for (var i = 0; i < expected.Count; i++)
                Assert.True(expected[i].SequenceEqual(actual[i]), $"stream {stream} row {i + 1}: json text gives [{string.Join(", ", expected[i])}], typed values give [{string.Join(", ", actual[i])}]");
        }
    }

    [Fact]
    public async Task Times_day_first_dates_and_lenient_numbers_land_as_the_values_they_mean()
    {
        foreach (var (name, text) in Csv) _h.Write($"csv/{name}.csv", text);
        await TempLake.RunBuiltInAsync(_lake.BuiltInPipeline("from-csv", "csv", CsvConfig(_h.Path("csv"))));

        Assert.Equal([["1", "07:05:00", "10.5", "2024-01-02 13:30:00.123456", "hello"], ["3", "23:59:59.123456", "0.5", "2024-01-02 10:00:00.000000", "  "],
                      ["5", null, "1", "2024-01-02 03:04:05.000000", null]],
            _lake.Query("SELECT id, clock::VARCHAR, amount, \"at\", note FROM read_parquet('{lake}/raw/csv/types/*/*.parquet') WHERE id IN (1, 3, 5) ORDER BY id"));
        Assert.Equal([["1", "2024-12-31", "2024-12-31 23:59:59.500000"], ["2", "2024-02-01", "2024-02-01 00:00:00.000000"]],
            _lake.Query("SELECT id, day::VARCHAR, \"at\" FROM read_parquet('{lake}/raw/csv/dmy/*/*.parquet') WHERE id <= 2 ORDER BY id"));
        Assert.Equal([["2024-12-31"], ["2024-02-29"], ["2024-01-13"]], _lake.Query("SELECT day::VARCHAR FROM read_parquet('{lake}/raw/csv/mdy/*/*.parquet') ORDER BY id"));
        Assert.Equal([["7", "42"], ["0", "-0"]], _lake.Query("SELECT code, n FROM read_parquet('{lake}/raw/csv/declared/*/*.parquet') WHERE id <= 2 ORDER BY id"));
    }
}

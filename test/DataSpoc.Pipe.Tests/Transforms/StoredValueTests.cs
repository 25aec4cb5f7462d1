using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Transforms;

/// <summary>
/// filter, compute, hash and cast see the value a column stores, not how the tap spelled it: the same rows sent by a
/// Singer tap (as text, <c>1.50</c>, a date-time with an offset) and by the built-in <c>csv</c> tap (as typed rows)
/// land the same lake, read back with DuckDB.
/// </summary>
public class StoredValueTests
{
    private const string Salt = "s@lt";

    private static readonly JsonObject Map = new()
    {
        ["filter"] = "ts >= '2024-03-06' or id > 1",
        ["compute"] = new JsonObject { ["cn"] = "concat(n)", ["cts"] = "concat(ts)", ["half"] = "i / 2" },
        ["hash"] = new JsonObject { ["columns"] = new JsonArray("email", "n", "d", "ts"), ["salt"] = Salt },
        ["cast"] = new JsonObject { ["i"] = "string" },
    };

    private const string Columns = "id, email, n, d, ts, i, cn, cts, half";

    [Fact]
    public async Task A_map_gives_one_result_per_stored_value_whether_a_Singer_tap_or_the_csv_tap_sent_it()
    {
        // Before, the Singer path hashed and compared the tap's text ('1.50', '2024-03-05T23:30:00-05:00') and the csv
        // tap's typed rows their value ('1.5', '2024-03-06T04:30:00.000000Z'): different hashes for one value, and the
        // filter dropped row 1 from the Singer tap only.
        using var singer = new TempLake();
        var file = singer.WriteSinger("h.singer",
            """{"type":"SCHEMA","stream":"h","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"email":{"type":["null","string"]},"n":{"type":["null","number"]},"i":{"type":["null","integer"]},"d":{"type":["null","string"],"format":"date"},"ts":{"type":["null","string"],"format":"date-time"}}}}""",
            """{"type":"RECORD","stream":"h","record":{"id":1,"email":"a@b.com","n":1.50,"i":42,"d":"2024-03-05","ts":"2024-03-05T23:30:00-05:00"}}""",
            """{"type":"RECORD","stream":"h","record":{"id":2,"email":"","n":2.0,"i":-1.0,"d":"2024-02-29","ts":"2024-03-05 10:00:00"}}""",
            """{"type":"RECORD","stream":"h","record":{"id":3,"email":"é😀","n":1e+20,"i":9007199254740993,"d":"0001-01-01","ts":"2024-03-05T10:00:00.123456789Z"}}""",
            """{"type":"RECORD","stream":"h","record":{"id":4,"email":null,"n":null,"i":null,"d":null,"ts":null}}""");
        var singerRun = await TempLake.RunAsync(singer.Pipeline("singer", file) with { Transforms = new Dictionary<string, JsonNode?> { ["h"] = Map.DeepClone() } });
        Assert.True(singerRun.Succeeded, singerRun.Log.Error);

        using var csv = new TempLake();
        var folder = Path.Combine(csv.Root + "-inputs", "csv");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "h.csv"), """
            id,email,n,i,d,ts
            1,a@b.com,1.50,42,2024-03-05,2024-03-05T23:30:00-05:00
            2,,2.0,-1,2024-02-29,2024-03-05 10:00:00
            3,é😀,1e+20,9007199254740993,0001-01-01,2024-03-05T10:00:00.123456789Z
            4,,,,,

            """);
        var types = new JsonObject { ["id"] = "integer", ["email"] = "string", ["n"] = "number", ["i"] = "integer", ["d"] = "date", ["ts"] = "date-time" };
        await TempLake.RunBuiltInAsync(csv.BuiltInPipeline("csv", "csv", new JsonObject
        {
            ["path"] = folder,
            ["streams"] = new JsonArray(new JsonObject { ["name"] = "h", ["pattern"] = "*.csv", ["types"] = types }),
        }) with { Transforms = new Dictionary<string, JsonNode?> { ["h"] = Map.DeepClone() } });

        var fromSinger = singer.Query($"select {Columns} from read_parquet('{{lake}}/raw/test/h/*/*.parquet') order by id");
        var fromCsv = csv.Query($"select {Columns} from read_parquet('{{lake}}/raw/csv/h/*/*.parquet') order by id");
        // The csv tap reads an empty field of a string column as null, the Singer record has "": the one difference.
        fromCsv[1][1] = Sha("");
        Assert.Equal(fromCsv, fromSinger);
        List<List<string?>> expected =
            [
                ["1", Sha("a@b.com"), Sha("1.5"), Sha("2024-03-05"), Sha("2024-03-06T04:30:00.000000Z"), "42", "1.5", "2024-03-06T04:30:00.000000Z", "21"],
                ["2", Sha(""), Sha("2"), Sha("2024-02-29"), Sha("2024-03-05T10:00:00.000000Z"), "-1", "2", "2024-03-05T10:00:00.000000Z", "-0.5"],
                ["3", Sha("é😀"), Sha("1E+20"), Sha("0001-01-01"), Sha("2024-03-05T10:00:00.123456Z"), "9007199254740993", "1E+20", "2024-03-05T10:00:00.123456Z", "4503599627370496"],
                ["4", null, null, null, null, null, "", "", null],
            ];
        Assert.Equal(expected.Count, fromSinger.Count);
        for (var r = 0; r < expected.Count; r++)
            Assert.True(Line(expected[r]) == Line(fromSinger[r]), $"row {r + 1}:\nexpected {Line(expected[r])}\nactual   {Line(fromSinger[r])}");
    }

    [Fact]
    public async Task NaN_and_the_infinities_of_a_number_column_reach_a_map_that_also_reads_a_decimal()
    {
        // A map reading a decimal column works on the record's text, where a bare NaN is the string "NaN" and the
        // PostgreSQL-style "Infinity" a string: the NaN row was rejected ("the record holds NaN ...") and the
        // "Infinity" one failed in NCalc ("The input string 'Infinity' was not in a correct format").
        using var lake = new TempLake();
        var file = lake.WriteSinger("nan.singer",
            """{"type":"SCHEMA","stream":"t","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"x":{"type":["null","number"]},"price":{"type":["null","number"],"multipleOf":0.01}}}}""",
            """{"type":"RECORD","stream":"t","record":{"id":1,"x":NaN,"price":1.25}}""",
            """{"type":"RECORD","stream":"t","record":{"id":2,"x":2.0,"price":1.25}}""",
            """{"type":"RECORD","stream":"t","record":{"id":3,"x":"Infinity","price":1.25}}""",
            """{"type":"RECORD","stream":"t","record":{"id":4,"x":-Infinity,"price":1.25}}""");
        var pipeline = lake.Pipeline("nan", file) with
        {
            OnInvalidRecord = InvalidRecordPolicy.Fail,
            Transforms = new Dictionary<string, JsonNode?> { ["t"] = new JsonObject { ["compute"] = new JsonObject { ["c"] = "price * 2", ["c2"] = "x > 1", ["c3"] = "x * 0 = 0" } } },
        };
        var result = await TempLake.RunAsync(pipeline);
        Assert.True(result.Succeeded, result.Log.Error);
        Assert.Equal(
            // price * 2 of a DECIMAL(38,2) price is a DECIMAL(38,2), as in DuckDB; so is NaN > 1 true (NaN above every number).
            [["1", "nan", "1.25", "2.50", "true"], ["2", "2.0", "1.25", "2.50", "true"], ["3", "inf", "1.25", "2.50", "true"], ["4", "-inf", "1.25", "2.50", "false"]],
            lake.Query("select id, x::varchar, price::varchar, c::varchar, c2::varchar from read_parquet('{lake}/raw/test/t/*/*.parquet') order by id"));
    }

    private static string Line(List<string?> row) => string.Join(" | ", row.Select(v => v ?? "null"));

    private static string Sha(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Salt + value)));
}

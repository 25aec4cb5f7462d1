using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Parquet;

/// <summary>Every row of the lake contract's type table, written by the pipe and read back by DuckDB value by value.</summary>
public class TypeMappingTests
{
    private const string Schema = """
        {"type":"SCHEMA","stream":"things","key_properties":["id"],"schema":{"type":"object","properties":{
          "id":{"type":"integer"},
          "price":{"type":"number"},
          "amount":{"type":["null","number"],"multipleOf":0.01},
          "ok":{"type":"boolean"},
          "label":{"type":["null","string"]},
          "ts":{"type":"string","format":"date-time"},
          "day":{"type":["null","string"],"format":"date"},
          "clock":{"type":"string","format":"time"},
          "customer":{"type":["null","object"],"properties":{"name":{"type":"string"},"address":{"type":"object","properties":{"zip":{"type":"string"}}}}},
          "extra":{"type":"object"},
          "anything":{},
          "tags":{"type":"array","items":{"type":"string"}},
          "scores":{"type":["null","array"],"items":{"type":"integer"}},
          "lines":{"type":"array","items":{"type":"object","properties":{"sku":{"type":"string"},"qty":{"type":"integer"}}}},
          "loose":{"type":"array"},
          "mixed":{"type":["integer","string"]},
          "either":{"anyOf":[{"type":"integer"},{"type":"null"}]},
          "wide":{"type":["integer","number"]}
        }}}
        """;

    private static readonly string[] Records =
    [
        """{"type":"RECORD","stream":"things","record":{"id":1,"price":1.5,"amount":12.34,"ok":true,"label":"plain","ts":"2025-01-20T10:05:12.345678+02:00","day":"2025-01-20","clock":"13:45:10.5","customer":{"name":"Zoë","address":{"zip":"01000"}},"extra":{"b":[1,2],"a":"x"},"anything":[1,"two",null],"tags":["a","b"],"scores":[1,2,3],"lines":[{"sku":"A1","qty":2},{"sku":"B2","qty":null}],"loose":[1,{"k":"v"}],"mixed":7,"either":5,"wide":3}}""",
        """{"type":"RECORD","stream":"things","record":{"id":2,"price":-0.25,"amount":null,"ok":false,"label":"quote \" backslash \\ tab \t newline \n unicode \u00e9 \ud83d\ude00 日本","ts":"2025-01-20T23:59:59Z","day":null,"clock":"00:00:00","customer":null,"extra":{},"anything":"text","tags":[],"scores":null,"lines":[],"loose":[],"mixed":"seven","either":null,"wide":2.5}}""",
        """{"type":"RECORD","stream":"things","record":{"id":3,"price":0,"ok":true,"ts":"2025-01-21 01:02:03","clock":"23:59:59.999999","customer":{"name":"Bob"},"extra":{"nested":{"deep":true}},"anything":42,"tags":["only"],"scores":[],"lines":[{"sku":"C3"}]}}""",
    ];

    [Fact]
    public async Task Every_type_in_the_contract_table_reads_back_with_its_value()
    {
        using var lake = new TempLake();
        var file = lake.WriteSinger("things.singer", [Schema.ReplaceLineEndings(""), .. Records]);
        var result = await TempLake.RunAsync(lake.Pipeline("types", file));
        Assert.True(result.Succeeded, result.Log.Error);
        var glob = "read_parquet('{lake}/raw/test/things/*/*.parquet')";

        var rows = lake.Query($"""
            select id, price, amount, ok, label, strftime(ts, '%Y-%m-%d %H:%M:%S.%f'), day::varchar, clock::varchar,
                   customer.name, customer.address.zip, extra::varchar, anything::varchar,
                   tags::varchar, scores::varchar, len(lines), lines[1].sku, lines[1].qty, lines[2].qty, loose::varchar,
                   mixed, either, wide
            from {glob} order by id
            """);
        Assert.Equal(3, rows.Count);
        Assert.Equal(["1", "1.5", "12.34", "true", "plain", "2025-01-20 08:05:12.345678", "2025-01-20", "13:45:10.5",
            "Zoë", "01000", """{"b":[1,2],"a":"x"}""", """[1,"two",null]""",
            "[a, b]", "[1, 2, 3]", "2", "A1", "2", null, """[1, {"k":"v"}]""", "7", "5", "3"], rows[0]);
        Assert.Equal(["2", "-0.25", null, "false", "quote \" backslash \\ tab \t newline \n unicode é 😀 日本", "2025-01-20 23:59:59.000000",
            null, "00:00:00", null, null, "{}", "\"text\"", "[]", null, "0", null, null, null, "[]", "seven", null, "2.5"], rows[1]);
        Assert.Equal(["3", "0", null, "true", null, "2025-01-21 01:02:03.000000", null, "23:59:59.999999", "Bob", null,
            """{"nested":{"deep":true}}""", "42", "[only]", "[]", "1", "C3", null, null, null, null, null, null], rows[2]);

        var types = lake.Query($"select column_name, column_type from (describe select * from {glob})")
            .ToDictionary(r => r[0]!, r => r[1]!);
        Assert.Equal("BIGINT", types["id"]);
        Assert.Equal("DOUBLE", types["price"]);
        Assert.Equal("DECIMAL(38,2)", types["amount"]);
        Assert.Equal("BOOLEAN", types["ok"]);
        Assert.Equal("VARCHAR", types["label"]);
        Assert.Equal("TIMESTAMP WITH TIME ZONE", types["ts"]);
        Assert.Equal("DATE", types["day"]);
        Assert.StartsWith("TIME", types["clock"]);
        Assert.Equal("STRUCT(\"name\" VARCHAR, address STRUCT(zip VARCHAR))", types["customer"]);
        Assert.Equal("JSON", types["extra"]);
        Assert.Equal("VARCHAR[]", types["tags"]);
        Assert.Equal("BIGINT[]", types["scores"]);
        Assert.Equal("STRUCT(sku VARCHAR, qty BIGINT)[]", types["lines"]);
        Assert.Equal("JSON[]", types["loose"]);
        Assert.Equal("VARCHAR", types["mixed"]);
        Assert.Equal("BIGINT", types["either"]);
        Assert.Equal("DOUBLE", types["wide"]);

        var columns = lake.Manifest().Tables["test/things"].Columns.ToDictionary(c => c.Name);
        Assert.Equal("timestamp[us, tz=UTC]", columns["ts"].Type);
        Assert.Equal("struct<name: string, address: struct<zip: string>>", columns["customer"].Type);
        Assert.Equal("list<struct<sku: string, qty: int64>>", columns["lines"].Type);
        Assert.False(columns["id"].Nullable);
        Assert.True(columns["label"].Nullable);
    }
}

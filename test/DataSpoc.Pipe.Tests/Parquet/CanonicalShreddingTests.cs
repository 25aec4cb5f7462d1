using System.Text;
using System.Text.Json;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Singer;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Parquet;

/// <summary>
/// The canonical fast path must store exactly what the tokenizer path stores (and count the same undeclared
/// properties), and must hand every record it cannot take (escapes, values of another type, invalid JSON) back untouched.
/// </summary>
public class CanonicalShreddingTests
{
    /// <summary>The scalar properties both test schemas declare.</summary>
    private const string ScalarProperties = """
          "id":{"type":"integer"},
          "price":{"type":["null","number"]},
          "ok":{"type":["null","boolean"]},
          "label":{"type":["null","string"]},
          "ts":{"type":["null","string"],"format":"date-time"},
          "day":{"type":["null","string"],"format":"date"},
          "clock":{"type":["null","string"],"format":"time"}
        """;

    internal const string SchemaJson = """{"type":"object","properties":{""" + ScalarProperties + """
        ,
          "customer":{"type":["null","object"],"properties":{"name":{"type":["null","string"]},"geo":{"type":["null","object"],"properties":{"lat":{"type":["null","number"]}}}}},
          "scores":{"type":["null","array"],"items":{"type":"integer"}},
          "lines":{"type":["null","array"],"items":{"type":"object","properties":{"sku":{"type":"string"},"qty":{"type":["null","integer"]}}}},
          "extra":{"type":["null","object"]},
          "amount":{"type":["null","number"],"multipleOf":0.01}
        }}
        """;

    /// <summary>Records the fast path takes; each must shred to the same column buffers as the tokenizer's.</summary>
    public static TheoryData<string> Canonical =>
    [
        """{"id":1,"price":1.5,"ok":true,"label":"plain","ts":"2025-01-20T10:05:12.345678+02:00","day":"2025-01-20","clock":"13:45:10.5","customer":{"name":"Zoë","geo":{"lat":-23.55}},"scores":[1,2,3],"lines":[{"sku":"A1","qty":2},{"sku":"B2","qty":null}]}""",
        """{"id": 2, "price": -0.25, "ok": false, "label": "日本 😀", "ts": "2025-01-20T23:59:59Z", "day": null, "clock": "00:00:00", "customer": null, "scores": [], "lines": []}""",
        """{ "id" : 3 , "price" : 0 }""",
        """{"label":"out of order","id":4,"ok":null,"price":7}""",
        """{"id":5}""",
        """{"id":-0,"price":-0}""",
        """{"id":123456789012345678,"price":123456789.123456}""",
        """{"id":-123456789012345678,"price":0.1}""",
        """{"id":6,"price":1234567.12345678912}""",
        """{"id":7,"price":1e3}""",
        """{"id":8,"price":-2.5E-3}""",
        """{"id":9,"price":17976931348623157e292}""",
        """{"id":10,"price":4.9e-324}""",
        """{"id":11,"customer":{"geo":null}}""",
        """{"id":12,"customer":{},"scores":null,"lines":[{"sku":"x"},{"qty":3,"sku":"y"}]}""",
        """{"id":13,"label":""}""",
        """{"id":14,"extra":null,"amount":null}""",
        "{\"id\":15,\t\"label\":\"tab before\"}",
        """{"id":16,"label":"quote \" backslash \\ slash \/ \b\f\n\r\t end"}""",
        """{"id":17,"label":"caf\u00e9 \u65e5\u672c \ud83d\ude00 \u0000 \u00E9"}""",
        """{"id":18,"label":"\"","customer":{"name":"Jos\u00e9 \"Z\u00e9\""}}""",
        // The scan only locates values; the column type decodes them, so whatever the type accepts the scan takes too:
        // an escaped date-time, whole numbers written with a fraction or exponent, 19 digits, a number in a string
        // column, a decimal, a date-time in a date column and the key bounds of each type.
        """{"id":1,"ts":"2025-01-01T00:00:00\u005a"}""",
        """{"id":1.0}""",
        """{"id":1e2}""",
        """{"id":1234567890123456789}""",
        """{"id":1,"label":7}""",
        """{"id":1,"amount":12.34}""",
        """{"id":-9223372036854775808,"price":-1.7976931348623157e308,"amount":-99.5,"label":true,"day":"2025-01-20T10:05:00Z"}""",
        """{"id":9223372036854775807,"price":9007199254740993,"amount":1e-2,"label":-0.5e3}""",
        // Undeclared properties (any value, at any depth) are skipped and counted as the tokenizer counts them.
        """{"id":19,"unknown":2,"label":"after"}""",
        """{"unknown":{"a":[1,{"b":null}],"c":"d"},"id":20,"customer":{"name":"x","nested_unknown":[true,false,"\u00e9"]}}""",
        """{"id":21, "unknown": [], "other": {}, "customer": {"geo": {"lat": 1.5, "alt": -0.5e3}}}""",
        """{"id":22,"lines":[{"sku":"a","note":"undeclared in a list element"}],"café":"non-ASCII key"}""",
    ];

    /// <summary>Records the fast path must hand to the tokenizer (which then stores them or reports what is wrong).</summary>
    public static TheoryData<string> NotCanonical =>
    [
        """{"id":1,"label":"lone \ud83d surrogate"}""",
        """{"id":1,"label":"lone \ude00 low"}""",
        """{"id":1,"label":"bad \x escape"}""",
        """{"id":1,"label":"bad \u12G4 hex"}""",
        """{"id":1,"label":"short \u12"}""",
        """{"id":1,"label":"ends in \"}""",
        """{"i\u0064":1}""",
        """{"id":1,"id":2}""",
        """{"id":1,"unkn\u006fwn":2}""",
        """{"id":1,"unknown":{"a":[1,}}""",
        """{"id":1,"unknown":"lone \ud83d surrogate \q"}""",
        """{"id":1,"customer":{"name":"x","unknown":tru}}""",
        """{"id":01}""",
        """{"id":-}""",
        """{"id":"1"}""",
        """{"id":1,"price":"1.5"}""",
        """{"id":1,"price":1.}""",
        """{"id":1,"price":.5}""",
        """{"id":1,"price":1e}""",
        """{"id":1,"price":NaN}""",
        """{"id":1,"price":1e999}""",
        """{"id":1,"ok":"true"}""",
        """{"id":1,"ok":tru}""",
        """{"id":1,"ts":"not a date"}""",
        """{"id":1,"extra":{"a":1}}""",
        """{"id":1,"customer":"x"}""",
        """{"id":1,"scores":[1,]}""",
        """{"id":1,}""",
        """{"id":1""",
        """{"id":1 "price":2}""",
        """{"id":nul}""",
    ];

    /// <summary>Scalar properties only: records of this schema go through the flat loop first.</summary>
    internal const string FlatSchemaJson = """{"type":"object","properties":{""" + ScalarProperties + "}}";

    /// <summary>
    /// Flat records the canonical scan takes: in schema order through the flat loop, the others through the general
    /// scan after the flat loop gave up, some of them part-way through the row (which must leave nothing behind).
    /// </summary>
    public static TheoryData<string> FlatCanonical =>
    [
        """{"id":1,"price":1.5,"ok":true,"label":"plain","ts":"2025-01-20T10:05:12.345678+02:00","day":"2025-01-20","clock":"13:45:10.5"}""",
        """{"id": 2, "price": -0.25, "ok": false, "label": "日本 😀", "ts": "2025-01-20T23:59:59Z", "day": null, "clock": "00:00:00"}""",
        """{ "id" : 3 , "price" : 0 }""",
        """{"id":4}""",
        """{}""",
        """{"id":5,"price":null,"ok":null,"label":null,"ts":null,"day":null,"clock":null}""",
        """{"id":6,"label":"quote \" backslash \\ \u00e9 \ud83d\ude00 end","ts":"2025-01-20 10:05"}""",
        """{"label":"out of order","id":7,"ok":null,"price":7}""",
        """{"id":8,"price":1.25,"label":"price and label written, then ok out of order","ok":true}""",
        """{"id":9,"price":2.5,"ok":false,"label":"missing in the middle","clock":"01:02"}""",
        """{"id":10 , "price":3 , "ok":true }""",
        """{"clock":"01:02","day":"2025-01-20","ts":null,"label":"reversed","ok":true,"price":1,"id":11}""",
        """{"id":12,"unknown":1,"price":2,"more":{"a":[1,2,{"b":"c"}]},"ok":false,"last":[]}""",
        """{"unknown":"first","id":13}""",
        """{"id":14,"price":1,"ok":true,"label":"x","ts":null,"day":null,"clock":null,"more":1}""",
    ];

    /// <summary>Flat records the scan must hand to the tokenizer, several failing after the flat loop wrote part of the row.</summary>
    public static TheoryData<string> FlatNotCanonical =>
    [
        """{"id":1,"price":1,"unknown":[1,2}""",
        """{"id":1,"price":1,"unknown":2 3}""",
        """{"id":1,"price":"1.5"}""",
        """{"id":1,"price":1,"ok":true,"label":"x","ts":"not a date"}""",
        """{"id":1,"id":2}""",
        """{"id":1,"price":1,"ok":true,"price":2}""",
        """{"id":1,"price":1,"ok":true,"label":"lone \ud83d surrogate"}""",
        """{"id":1,"price":1,"ok":true,"label":"x","ts":null,"day":null,"clock":null,"more":nul}""",
        """{"id":1,}""",
        """{"id":1""",
        """{"id":1 "price":2}""",
        """{"id":nul}""",
        """{"id":1,"price":2,"ok":tru}""",
    ];

    [Theory]
    [MemberData(nameof(Canonical))]
    public void A_canonical_record_shreds_exactly_as_the_tokenizer_does(string record) => AssertShredsAsTheTokenizer(Schema(), record);

    [Theory]
    [MemberData(nameof(FlatCanonical))]
    public void A_flat_canonical_record_shreds_exactly_as_the_tokenizer_does(string record) =>
        AssertShredsAsTheTokenizer(ColumnSchema.FromJsonSchema(JsonDocument.Parse(FlatSchemaJson).RootElement), record);

    [Theory]
    [MemberData(nameof(FlatNotCanonical))]
    public void A_flat_record_the_scan_cannot_take_is_handed_back_with_the_batch_as_it_was(string record) =>
        AssertHandedBack(ColumnSchema.FromJsonSchema(JsonDocument.Parse(FlatSchemaJson).RootElement), """{"id":100,"label":"kept"}""", record);

    private static void AssertShredsAsTheTokenizer(ColumnSchema schema, string record)
    {
        var fast = new ColumnBatch(schema);
        var slow = new ColumnBatch(schema);
        var bytes = Encoding.UTF8.GetBytes(record);

        var position = 0;
        var fastShredder = new RecordShredder();
        var slowShredder = new RecordShredder();
        Assert.True(fastShredder.TryShredCanonical(fast, bytes, ref position), "the fast path refused it");
        Assert.Equal(bytes.Length, position);
        var reader = new Utf8JsonReader(bytes);
        reader.Read();
        slowShredder.Shred(slow, ref reader);

        Assert.Equal(slow.Rows, fast.Rows);
        for (var c = 0; c < schema.Leaves.Count; c++)
            AssertSame(schema.Leaves[c].Path, slow.Columns[c], fast.Columns[c]);
        Assert.Equal(slowShredder.DroppedProperties.OrderBy(p => p.Key), fastShredder.DroppedProperties.OrderBy(p => p.Key));
    }

    [Fact]
    public void Undeclared_scalars_objects_and_arrays_are_skipped_by_the_scan_and_counted_as_the_tokenizer_counts_them()
    {
        string[] records =
        [
            """{"id":1,"u_scalar":7,"u_object":{"a":{"b":[1,2]}},"u_array":[{"x":"y"},[],null],"customer":{"name":"a","u_inner":{"deep":true}}}""",
            """{"u_array":[],"id":2,"u_scalar":"text \" with an escape","customer":{"u_inner":[1],"name":"b"}}""",
            """{"id": 3, "u_scalar": null, "u_object": {}, "lines": [{"sku": "s", "u_line": {"k": 1}}]}""",
        ];
        foreach (var schema in new[] { Schema(), ColumnSchema.FromJsonSchema(JsonDocument.Parse(FlatSchemaJson).RootElement) })
        {
            var dropped = ShredBothWaysAndCompare(schema, records);
            Assert.Equal(3, dropped["u_scalar"]);
            Assert.Equal(2, dropped["u_array"]);
        }
    }

    /// <summary>
    /// Shreds every record through the canonical scan (which must take each whole) and through the tokenizer, asserts
    /// both give the same columns and dropped-property counts, and returns the counts.
    /// </summary>
    private static Dictionary<string, long> ShredBothWaysAndCompare(ColumnSchema schema, IEnumerable<string> records)
    {
        var fast = new ColumnBatch(schema);
        var slow = new ColumnBatch(schema);
        var fastShredder = new RecordShredder();
        var slowShredder = new RecordShredder();
        foreach (var record in records)
        {
            var bytes = Encoding.UTF8.GetBytes(record);
            var position = 0;
            Assert.True(fastShredder.TryShredCanonical(fast, bytes, ref position), $"the scan refused {record}");
            Assert.Equal(bytes.Length, position);
            var reader = new Utf8JsonReader(bytes);
            reader.Read();
            slowShredder.Shred(slow, ref reader);
        }
        for (var c = 0; c < schema.Leaves.Count; c++)
            AssertSame(schema.Leaves[c].Path, slow.Columns[c], fast.Columns[c]);
        Assert.Equal(slowShredder.DroppedProperties.OrderBy(p => p.Key), fastShredder.DroppedProperties.OrderBy(p => p.Key));
        return new Dictionary<string, long>(fastShredder.DroppedProperties);
    }

    [Fact]
    public void Undeclared_properties_are_named_by_their_path_in_the_record_the_same_on_both_paths()
    {
        // A list's element is `list[]`, a struct's field follows a '.', and a name holding '.' is escaped: undeclared
        // fields of two lists of objects, or a top-level `s.x` beside struct `s`'s field `x`, are never one entry.
        var schema = ColumnSchema.FromJsonSchema(JsonDocument.Parse("""
            {"type":"object","properties":{"id":{"type":"integer"},
             "a":{"type":"array","items":{"type":"object","properties":{"k":{"type":"string"}}}},
             "b":{"type":"array","items":{"type":"object","properties":{"k":{"type":"string"}}}},
             "s":{"type":"object","properties":{"c":{"type":"string"},"inner":{"type":"object","properties":{"d":{"type":"integer"}}}}}}}
            """).RootElement);
        string[] records =
        [
            """{"id":1,"a":[{"k":"x","zz":1}],"b":[{"k":"y","zz":2},{"k":"z","zz":3}],"s":{"c":"v","x":1,"inner":{"d":1,"y":2}},"s.x":5}""",
            """{"id":2,"b":[{"zz":4}],"s":{"x":[1]},"a[]":7}""",
        ];
        var dropped = ShredBothWaysAndCompare(schema, records);
        Assert.Equal(
            new Dictionary<string, long> { ["a[].zz"] = 1, ["b[].zz"] = 3, ["s.x"] = 2, ["s.inner.y"] = 1, ["s\\.x"] = 1, ["a\\[]"] = 1 },
            dropped);
    }

    [Fact]
    public void Undeclared_properties_where_the_last_record_had_them_or_elsewhere_land_as_the_tokenizer_lands_them()
    {
        // The flat loop expects an undeclared property where the previous record had it; every deviation from that
        // (another undeclared key, a declared one, a key that only starts like it, spaces, the end of the record) must
        // still give the tokenizer's values and counts.
        string[] records =
        [
            """{"id":1,"price":1.5,"u_ref":"a","ok":true,"label":"x","ts":null,"day":null,"clock":null,"u_tail":0}""",
            """{"id":2,"price":2.5,"u_ref":"b","ok":false,"label":"y","ts":null,"day":null,"clock":null,"u_tail":1}""",
            """{"id":3,"price":3.5,"ok":true,"u_ref":"c","label":"z","u_tail":[1,{"k":null}]}""",
            """{"id":4,"price":4.5,"u_refx":"d","ok":null,"label":"w","u_tail":{}}""",
            """{"id":5,"price":5.5,"u_ref" : "e","ok":true,"label":"v","clock":"10:00:00","u_tail":"t","u_ref2":2}""",
            """{"id":6,"price":6.5,"u_ref":"f","ok":true,"label":"u","ts":"2024-01-02T03:04:05Z","day":"2024-01-02","clock":null,"u_tail":0}""",
            """{"id":7,"price":7.5,"u_ref":"g","ok":true,"label":"t","ts":null,"day":null,"clock":null}""",
            """{"u_ref":"h","id":8,"price":8.5,"ok":true,"label":"s","ts":null,"day":null,"clock":null,"u_tail":0}""",
        ];
        var dropped = ShredBothWaysAndCompare(ColumnSchema.FromJsonSchema(JsonDocument.Parse(FlatSchemaJson).RootElement), records.Concat(records));
        Assert.Equal(14, dropped["u_ref"]);
        Assert.Equal(14, dropped["u_tail"]);
        Assert.Equal(2, dropped["u_refx"]);
        Assert.Equal(2, dropped["u_ref2"]);
    }

    [Fact]
    public void A_record_the_scan_took_and_its_caller_rolled_back_has_its_undeclared_properties_counted_once()
    {
        // A caller that finds the rest of the line malformed after the scan took the record rolls the row back and
        // hands the same bytes to the tokenizer, which counts the undeclared properties itself.
        var schema = ColumnSchema.FromJsonSchema(JsonDocument.Parse(FlatSchemaJson).RootElement);
        var batch = new ColumnBatch(schema);
        var shredder = new RecordShredder();
        var bytes = Encoding.UTF8.GetBytes("""{"id":1,"unknown":{"a":1}}""");
        batch.Mark();
        var position = 0;
        Assert.True(shredder.TryShredCanonical(batch, bytes, ref position));
        Assert.Equal(1, shredder.DroppedProperties["unknown"]);
        batch.RollbackToMark();
        var reader = new Utf8JsonReader(bytes);
        reader.Read();
        shredder.Shred(batch, ref reader);
        Assert.Equal(1, batch.Rows);
        Assert.Equal(1, shredder.DroppedProperties["unknown"]);

        // The next record, taken by the scan and kept, counts again.
        position = 0;
        Assert.True(shredder.TryShredCanonical(batch, bytes, ref position));
        reader = new Utf8JsonReader(bytes);
        reader.Read();
        shredder.Shred(batch, ref reader);
        Assert.Equal(3, shredder.DroppedProperties["unknown"]);
    }

    [Fact]
    public async Task Undeclared_properties_and_any_consistent_order_land_the_same_values_and_counts_through_a_run()
    {
        const string schema = """{"type":"SCHEMA","stream":"people","schema":{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]},"score":{"type":["null","number"]}}},"key_properties":["id"]}""";
        var lines = new List<string> { schema };
        for (var i = 1; i <= 300; i++)
            lines.Add((i % 2 == 0
                ? """{"type":"RECORD","stream":"people","record":{"score":N.5,"name":"nN","ref":"rN","id":N,"meta":{"tags":["a","b"],"n":N}}}"""
                : """{"type":"RECORD","stream":"people","record":{"id":N,"ref":"rN","name":"nN","score":N.5}}""").Replace("N", i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        using var lake = new TempLake();
        var result = await TempLake.RunAsync(lake.Pipeline("undeclared", lake.WriteSinger("undeclared.singer", [.. lines])));
        Assert.True(result.Succeeded, result.Log.Error);

        var stream = result.Log.Streams["people"];
        Assert.Equal(300, stream.Records);
        Assert.Equal(300, stream.DroppedProperties["ref"]);
        Assert.Equal(150, stream.DroppedProperties["meta"]);
        Assert.Equal(2, stream.DroppedProperties.Count);
        Assert.Equal([["300", "45150", "45300"]], lake.Query("select count(*), sum(id)::bigint, sum(score)::bigint from read_parquet('{lake}/raw/test/people/*/*.parquet')"));
        Assert.Equal([["2", "n2", "2.5"], ["3", "n3", "3.5"]], lake.Query("select id, name, score from read_parquet('{lake}/raw/test/people/*/*.parquet') where id in (2, 3) order by id"));
    }

    [Theory]
    [MemberData(nameof(NotCanonical))]
    public void Anything_else_is_handed_back_with_the_batch_as_it_was(string record) =>
        AssertHandedBack(Schema(), """{"id":100,"label":"kept","scores":[5],"lines":[{"sku":"k"}]}""", record);

    private static void AssertHandedBack(ColumnSchema schema, string firstRecord, string record)
    {
        var batch = new ColumnBatch(schema);
        var shredder = new RecordShredder();
        var first = Encoding.UTF8.GetBytes(firstRecord);
        var at = 0;
        Assert.True(shredder.TryShredCanonical(batch, first, ref at));
        var before = Snapshot(batch);

        batch.Mark();
        var position = 0;
        if (!shredder.TryShredCanonical(batch, Encoding.UTF8.GetBytes(record), ref position)) batch.RollbackToMark();
        else Assert.Fail("the fast path took a record it must leave to the tokenizer");

        Assert.Equal(before, Snapshot(batch));
        Assert.Empty(shredder.DroppedProperties);
    }

    [Fact]
    public void Objects_of_more_than_64_properties_shred_alike_and_refuse_repeats()
    {
        var properties = string.Join(",", Enumerable.Range(0, 70).Select(i => $"\"c{i}\":{{\"type\":[\"null\",\"integer\"]}}"));
        var schema = ColumnSchema.FromJsonSchema(JsonDocument.Parse($"{{\"type\":\"object\",\"properties\":{{{properties}}}}}").RootElement);
        // Every other property, in reverse order, so some are missing and the expected order never holds.
        var record = Encoding.UTF8.GetBytes("{" + string.Join(",", Enumerable.Range(0, 70).Where(i => i % 2 == 0).Reverse().Select(i => $"\"c{i}\":{i}")) + "}");
        var fast = new ColumnBatch(schema);
        var slow = new ColumnBatch(schema);
        var position = 0;
        Assert.True(new RecordShredder().TryShredCanonical(fast, record, ref position));
        var reader = new Utf8JsonReader(record);
        reader.Read();
        new RecordShredder().Shred(slow, ref reader);
        for (var c = 0; c < schema.Leaves.Count; c++)
            AssertSame(schema.Leaves[c].Path, slow.Columns[c], fast.Columns[c]);

        var repeated = Encoding.UTF8.GetBytes("""{"c69":1,"c1":2,"c69":3}""");
        position = 0;
        Assert.False(new RecordShredder().TryShredCanonical(new ColumnBatch(schema), repeated, ref position));
    }

    [Fact]
    public void Invalid_UTF8_and_control_bytes_in_a_string_are_handed_back()
    {
        var schema = Schema();
        foreach (var bad in new[] { "\"a\xC3(b\"", "\"a\x01b\"", "\"\xFF\"" })
        {
            var bytes = Encoding.Latin1.GetBytes($"{{\"id\":1,\"label\":{bad}}}");
            var batch = new ColumnBatch(schema);
            var position = 0;
            Assert.False(new RecordShredder().TryShredCanonical(batch, bytes, ref position));
        }
    }

    [Fact]
    public async Task A_control_byte_in_an_undeclared_key_is_handed_back_and_fails_the_run_naming_its_line()
    {
        // Found by SingerMutationFuzzTests (seed 982240010 input 4556): a key holding 0x02 is not JSON, yet the scan
        // dropped it as an undeclared property and the record landed.
        foreach (var schema in new[] { Schema(), ColumnSchema.FromJsonSchema(JsonDocument.Parse(FlatSchemaJson).RootElement) })
            foreach (var record in new[] { "{\"id\":1,\"la\u0002bel\":\"x\"}", "{\"la\u0001\":2,\"id\":1}" })
            {
                var position = 0;
                Assert.False(new RecordShredder().TryShredCanonical(new ColumnBatch(schema), Encoding.UTF8.GetBytes(record), ref position), record);
            }

        using var lake = new TempLake();
        var file = lake.WriteSinger("control.singer",
            """{"type":"SCHEMA","stream":"people","schema":{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]}}},"key_properties":["id"]}""",
            """{"type":"RECORD","stream":"people","record":{"id":1,"name":"Ana"}}""",
            "{\"type\":\"RECORD\",\"stream\":\"people\",\"record\":{\"id\u0002:8,#name\":\"Ana\"}}");
        var result = await TempLake.RunAsync(lake.Pipeline("control", file));
        Assert.False(result.Succeeded);
        Assert.StartsWith("line 3: not valid JSON: '0x02' is invalid within a JSON string", result.Log.Error);
        Assert.Empty(lake.ParquetKeys());
    }

    [Theory]
    [InlineData("""{"type":"RECORD","stream":"s","record":{"id":1}}""", true)]
    [InlineData("""{"type": "RECORD", "stream": "s", "record": {"id":1}, "version": 3, "time_extracted": "2025-01-01T00:00:00Z"}""", true)]
    [InlineData("""{"type":"RECORD","stream":"s","record":{"id":1}}  """, true)]
    [InlineData("""{"type":"RECORD","stream":"s","record":{"id":1}""", false)]
    [InlineData("""{"type":"RECORD","stream":"s","record":{"id":1}}}""", false)]
    [InlineData("""{"type":"RECORD","stream":"s","record":{"id":1},}""", false)]
    [InlineData("""{"type":"RECORD","stream":"s","record":{"id":1},"x":}""", false)]
    [InlineData("""{"type":"RECORD","stream":"s","record":{"id":1},"x":1,}""", false)]
    [InlineData("""{"type":"RECORD","stream":"s","record":{"id":1},"x":[1}""", false)]
    [InlineData("""{"type":"RECORD","stream":"s","record":{"id":1}} {}""", false)]
    public void What_follows_the_record_must_complete_the_message(string line, bool complete)
    {
        var bytes = Encoding.UTF8.GetBytes(line);
        var end = line.IndexOf("{\"id\":1}", StringComparison.Ordinal) + "{\"id\":1}".Length;
        Assert.Equal(complete, SingerEnvelope.IsCompleteAfterRecord(bytes, end));
    }

    [Fact]
    public async Task Python_spacing_extra_members_and_escapes_land_the_same_values_through_a_run()
    {
        using var lake = new TempLake();
        var file = lake.WriteSinger("mixed.singer",
            """{"type": "SCHEMA", "stream": "people", "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": ["null", "string"]}, "score": {"type": ["null", "number"]}}}, "key_properties": ["id"]}""",
            """{"type": "RECORD", "stream": "people", "record": {"id": 1, "name": "Ana", "score": 1.25}, "version": 1, "time_extracted": "2025-01-01T00:00:00.000000Z"}""",
            """{"type": "RECORD", "stream": "people", "record": {"id": 2, "name": "Jos\u00e9 \"Zé\"", "score": 2}}""",
            """{"record":{"id":3,"name":"record first","score":null},"stream":"people","type":"RECORD"}""",
            """{"type":"RECORD","stream":"people","record":{"score":4.5,"id":4}}""",
            """{"type":"RECORD","stream":"people","record":{"id":5,"name":"extra member","score":5},"time_extracted":"2025-01-01T00:00:00Z"}""");
        var result = await TempLake.RunAsync(lake.Pipeline("mixed", file));
        Assert.True(result.Succeeded, result.Log.Error);

        var rows = lake.Query("select id, name, score from read_parquet('{lake}/raw/test/people/*/*.parquet') order by id");
        Assert.Equal([
            ["1", "Ana", "1.25"],
            ["2", "José \"Zé\"", "2"],
            ["3", "record first", null],
            ["4", null, "4.5"],
            ["5", "extra member", "5"],
        ], rows);
    }

    [Fact]
    public async Task Envelopes_written_any_way_and_streams_with_similar_names_land_each_record_in_its_stream()
    {
        // The scan remembers the last record's envelope as written and takes the next line by one comparison with it.
        // Spacing changing from line to line, a stream whose name is as long as another's (its record at the same
        // place), one whose name extends another's, and extra spaces before the record object must still put every
        // record in its own stream with its own values.
        static string SchemaOf(string stream) =>
            """{"type":"SCHEMA","stream":"NAME","schema":{"type":"object","properties":{"id":{"type":"integer"},"v":{"type":["null","string"]}}},"key_properties":["id"]}""".Replace("NAME", stream);
        using var lake = new TempLake();
        var file = lake.WriteSinger("envelopes.singer",
            SchemaOf("a"),
            SchemaOf("b"),
            SchemaOf("aa"),
            """{"type": "RECORD", "stream": "a", "record": {"id": 1, "v": "spaced"}}""",
            """{"type": "RECORD", "stream": "a", "record": {"id": 2, "v": "spaced again"}}""",
            """{"type":"RECORD","stream":"a","record":{"id":3,"v":"compact"}}""",
            """{"type":"RECORD","stream":"b","record":{"id":10,"v":"b, the record where a's is"}}""",
            """{"type":"RECORD","stream":"aa","record":{"id":4,"v":"longer name"}}""",
            """{"type":"RECORD","stream":"a","record":{"id":5,"v":"back to a"}}""",
            """{"type":"RECORD","stream":"a","record":   {"id":6,"v":"spaces before the record"}}""",
            """{"type":"RECORD","stream":"a","record":{"id":7,"v":"after it"}}""",
            """{"type": "RECORD", "stream": "aa", "record": {"id": 8, "v": "aa spaced"}, "version": 2}""",
            """{"type": "RECORD", "stream": "aa", "record": {"v": "out of order", "id": 9}}""",
            """{"type": "RECORD", "stream": "b", "record": {"id": 11, "v": "b spaced"}}""");
        var result = await TempLake.RunAsync(lake.Pipeline("envelopes", file));
        Assert.True(result.Succeeded, result.Log.Error);

        Assert.Equal([["1", "spaced"], ["2", "spaced again"], ["3", "compact"], ["5", "back to a"], ["6", "spaces before the record"], ["7", "after it"]],
            lake.Query("select id, v from read_parquet('{lake}/raw/test/a/*/*.parquet') order by id"));
        Assert.Equal([["4", "longer name"], ["8", "aa spaced"], ["9", "out of order"]],
            lake.Query("select id, v from read_parquet('{lake}/raw/test/aa/*/*.parquet') order by id"));
        Assert.Equal([["10", "b, the record where a's is"], ["11", "b spaced"]],
            lake.Query("select id, v from read_parquet('{lake}/raw/test/b/*/*.parquet') order by id"));
        Assert.Equal(6, result.Log.Streams["a"].Records);
        Assert.Equal(3, result.Log.Streams["aa"].Records);
        Assert.Equal(2, result.Log.Streams["b"].Records);
    }

    [Fact]
    public async Task A_canonical_line_with_a_broken_tail_fails_naming_its_line()
    {
        using var lake = new TempLake();
        var file = lake.WriteSinger("broken.singer",
            """{"type":"SCHEMA","stream":"people","schema":{"type":"object","properties":{"id":{"type":"integer"}}},"key_properties":["id"]}""",
            """{"type":"RECORD","stream":"people","record":{"id":1}}""",
            """{"type":"RECORD","stream":"people","record":{"id":2},}""");
        var result = await TempLake.RunAsync(lake.Pipeline("broken", file));
        Assert.False(result.Succeeded);
        Assert.Contains("line 3", result.Log.Error);
    }

    private static ColumnSchema Schema() => ColumnSchema.FromJsonSchema(JsonDocument.Parse(SchemaJson).RootElement);

    private static void AssertSame(string column, LeafBuffer expected, LeafBuffer actual)
    {
        Assert.True(expected.Levels == actual.Levels, $"{column}: levels");
        Assert.True(expected.Def.AsSpan(0, expected.Levels).SequenceEqual(actual.Def.AsSpan(0, actual.Levels)), $"{column}: definition levels");
        if (expected.Rep.Length > 0)
            Assert.True(expected.Rep.AsSpan(0, expected.Levels).SequenceEqual(actual.Rep.AsSpan(0, actual.Levels)), $"{column}: repetition levels");
        Assert.True(expected.Values == actual.Values, $"{column}: value count");
        Assert.True(expected.Longs.AsSpan(0, Math.Min(expected.Longs.Length, expected.Values)).SequenceEqual(actual.Longs.AsSpan(0, Math.Min(actual.Longs.Length, actual.Values))), $"{column}: integers");
        Assert.True(expected.Ints.AsSpan(0, Math.Min(expected.Ints.Length, expected.Values)).SequenceEqual(actual.Ints.AsSpan(0, Math.Min(actual.Ints.Length, actual.Values))), $"{column}: dates");
        Assert.True(expected.Bools.AsSpan(0, Math.Min(expected.Bools.Length, expected.Values)).SequenceEqual(actual.Bools.AsSpan(0, Math.Min(actual.Bools.Length, actual.Values))), $"{column}: booleans");
        for (var i = 0; i < Math.Min(expected.Doubles.Length, expected.Values); i++)
            Assert.True(BitConverter.DoubleToInt64Bits(expected.Doubles[i]) == BitConverter.DoubleToInt64Bits(actual.Doubles[i]),
                $"{column}: double {i}: {expected.Doubles[i]:R} vs {actual.Doubles[i]:R}");
        Assert.True(expected.Bytes.AsSpan(0, expected.ByteCount).SequenceEqual(actual.Bytes.AsSpan(0, actual.ByteCount)), $"{column}: bytes");
    }

    private static string Snapshot(ColumnBatch batch) =>
        batch.Rows + "|" + string.Join("|", batch.Columns.Select(c => $"{c.Levels},{c.Values},{c.ByteCount}"));
}

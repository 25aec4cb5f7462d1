using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Tests.Support;
using DataSpoc.Pipe.Transforms;

namespace DataSpoc.Pipe.Tests.Transforms;

/// <summary>
/// Differential test of the typed map path (<see cref="TypedStreamMap"/>) against the JSON path it replaces: seeded
/// random schemas (integer, number, boolean, string, date, date-time, time, object columns), random maps (filter,
/// compute, hash, cast, drop, rename) and random records (nulls, missing and undeclared properties, values of the
/// wrong type, escapes and unicode) go through two real runs: one as the pipeline runs them (typed), one with a
/// no-op code transform before the map, which keeps the stream on the JSON path. The lakes (rows, column types),
/// the run logs' counts and the errors must be equal. The seed is new every run and printed; <c>DATASPOC_FUZZ_SEED=n</c>
/// replays one.
/// </summary>
public class TypedMapDifferentialTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Cases = 40;
    private const int RecordsPerCase = 150;
    private const int MinRowMaps = Cases / 8;

    private static readonly string[] Kinds = ["integer", "number", "boolean", "string", "date", "date-time", "time", "object"];

    [Fact]
    public async Task Random_maps_give_the_same_lake_on_the_typed_path_as_on_the_json_path()
    {
        var seed = FuzzSeed.FromEnvironment();
        output.WriteLine($"seed {seed} (replay with DATASPOC_FUZZ_SEED={seed})");
        long typed = 0, fallback = 0, filtered = 0, records = 0, rowMaps = 0, rowRecords = 0, unboxedMaps = 0;
        // Past the usual cases while too few maps ran on rows (the row-level form is drawn at random: 3 or 4 of 40 in about
        // one seed of 50), so that every seed compares that form as often as the assertions below ask.
        for (var c = 0; c < Cases || (c < 2 * Cases && (rowMaps < MinRowMaps || unboxedMaps == 0)); c++)
        {
            var caseSeed = unchecked(seed * 7919 + c);
            var random = new Random(caseSeed);
            var columns = RandomColumns(random);
            // Every other map keeps to what the row-level form takes (casts to integer, number, string or boolean of tap
            // columns, hashes of tap columns), so that both forms of the typed path are compared often.
            var map = RandomMap(random, columns, rowLevel: c % 2 == 1);
            var schema = SchemaJson(columns);
            var lines = new List<string> { $$"""{"type":"SCHEMA","stream":"s","key_properties":[],"schema":{{schema}}}""" };
            for (var r = 0; r < RecordsPerCase; r++) lines.Add($$"""{"type":"RECORD","stream":"s","record":{{RandomRecord(random, columns, map)}}}""");
            records += RecordsPerCase;
            string Where() => $"seed {seed}, case {c} (seed {caseSeed})\nmap: {map.ToJsonString()}\nschema: {schema}";

            var (t, f, k, onRows, unboxed) = CountPaths(map, schema, lines.Skip(1));
            if (unboxed) unboxedMaps++;
            if (onRows)
            {
                rowMaps++;
                rowRecords += t + k;
            }
            typed += t;
            fallback += f;
            filtered += k;

            // Small files: rows filtered or handed to the JSON path fall at batch edges too.
            await AssertSameLakes(map, lines, random.Next(1, 24), Where);
        }
        output.WriteLine($"{records} records over {records / RecordsPerCase} maps: {typed} kept and {filtered} filtered on the typed path, {fallback} handed to the JSON path; " +
                         $"{rowMaps} maps ran on rows ({rowRecords} records kept or filtered there), {unboxedMaps} of them with unboxed expressions");
        Assert.True(rowMaps >= MinRowMaps && rowRecords > 0, $"only {rowMaps} maps ({rowRecords} records) ran on rows");
        Assert.True(unboxedMaps > 0, "no map on rows evaluated its expressions unboxed");
        // The typed path must carry a good share of the records (many are built to fall back), else the comparison would prove little.
        Assert.True(typed + filtered > records / 5, $"only {typed + filtered} of {records} records took the typed path");
    }

    /// <summary>
    /// A zero in an integer column may have been written -0.0 (an integer column takes whole numbers with a fraction), which
    /// an expression tells from 0: the row-level form hands such a row to the JSON path. Found by the test above (seed
    /// 350936881, case 38): an integer cast read by a compute, and the same for a column declared integer.
    /// </summary>
    [Fact]
    public async Task A_negative_zero_in_an_integer_column_reaches_expressions_as_the_json_path_reads_it()
    {
        var map = JsonNode.Parse("""{"compute":{"k0":"c1 + c2","k1":"c2 + c1","k2":"c1 * c2","k3":"c2 / 7"},"cast":{"c1":"integer"}}""")!.AsObject();
        var schema = """{"type":"object","properties":{"c1":{"type":["null","number"]},"c2":{"type":["null","integer"]}}}""";
        List<string> lines = [$$"""{"type":"SCHEMA","stream":"s","key_properties":[],"schema":{{schema}}}"""];
        foreach (var (c1, c2) in new[] { ("-0.0", "292"), ("0", "-0.0"), ("-0", "5"), ("0.0", "0"), ("-0.0", "-0.0"), ("3.0", "-0"), ("2.5", "0.0") })
            lines.Add($$$"""{"type":"RECORD","stream":"s","record":{"c1":{{{c1}}},"c2":{{{c2}}}}}""");
        Assert.True(CountPaths(map, schema, lines.Skip(1)).OnRows, "the map does not run on rows, the form under test");
        await AssertSameLakes(map, lines, 100, () => "the negative zero case");
    }

    /// <summary>Runs the lines through the typed path and the JSON path and asserts equal run logs, column types and rows.</summary>
    private static async Task AssertSameLakes(JsonObject map, List<string> lines, int fileRows, Func<string> where)
    {
        var singer = Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n");
        using var typedLake = new TempLake();
        using var jsonLake = new TempLake();
        var typedRun = await Run(typedLake, map, singer, keepJsonPath: false, fileRows);
        var jsonRun = await Run(jsonLake, map, singer, keepJsonPath: true, fileRows);
        Assert.True(jsonRun.Log.Status == typedRun.Log.Status, $"status: typed {typedRun.Log.Status} ({typedRun.Log.Error}), json {jsonRun.Log.Status} ({jsonRun.Log.Error})\n{where()}");
        Assert.True(jsonRun.Log.Error == typedRun.Log.Error, $"error: typed '{typedRun.Log.Error}', json '{jsonRun.Log.Error}'\n{where()}");
        if (!typedRun.Succeeded) return;
        var typedStream = typedRun.Log.Streams["s"];
        var jsonStream = jsonRun.Log.Streams["s"];
        Assert.True(jsonStream.Records == typedStream.Records && jsonStream.Rejected == typedStream.Rejected && jsonStream.Filtered == typedStream.Filtered,
            $"counts: typed {typedStream.Records}/{typedStream.Rejected}/{typedStream.Filtered}, json {jsonStream.Records}/{jsonStream.Rejected}/{jsonStream.Filtered} (records/rejected/filtered)\n{where()}");
        Assert.True(jsonStream.DroppedProperties.SequenceEqual(typedStream.DroppedProperties),
            $"dropped: typed {string.Join(",", typedStream.DroppedProperties)}, json {string.Join(",", jsonStream.DroppedProperties)}\n{where()}");
        Assert.True(Same(Types(jsonLake), Types(typedLake)), $"column types: typed {Show(Types(typedLake))}, json {Show(Types(jsonLake))}\n{where()}");
        var jsonRows = Rows(jsonLake);
        var typedRows = Rows(typedLake);
        Assert.True(Same(jsonRows, typedRows), $"rows differ: typed\n{Show(typedRows)}\njson\n{Show(jsonRows)}\n{where()}");
    }

    /// <summary>How many records the typed path keeps, hands back, and filters, for the map compiled as a run compiles it.</summary>
    private static (long Typed, long Fallback, long Filtered, bool OnRows, bool Unboxed) CountPaths(JsonObject mapJson, string schema, IEnumerable<string> recordLines)
    {
        using var lake = new TempLake();
        var pipeline = lake.Pipeline("count", lake.WriteSinger("unused.singer", "")) with { Transforms = new Dictionary<string, JsonNode?> { ["s"] = mapJson.DeepClone() } };
        var map = (StreamMap)Assert.Single(TransformCompiler.Compile(pipeline));
        var tapSchema = JsonElement.Parse(schema);
        JsonElement outputSchema;
        try { outputSchema = JsonElement.Parse(map.TransformSchema("s", JsonNode.Parse(schema)!.AsObject()).ToJsonString()); }
        catch (TransformException) { return (0, 0, 0, false, false); }
        var compiled = TypedStreamMap.TryCompile(map, tapSchema, outputSchema, "", 1);
        if (compiled is null) return (0, 0, 0, false, false);
        long typed = 0, fallback = 0, filtered = 0;
        foreach (var line in recordLines)
        {
            var bytes = Encoding.UTF8.GetBytes(line);
            var start = line.IndexOf("\"record\":", StringComparison.Ordinal) + "\"record\":".Length;
            var reader = new Utf8JsonReader(bytes.AsSpan(start));
            reader.Read();
            try
            {
                switch (compiled.OnRows ? ApplyToRow(compiled, ref reader) : compiled.ForLane(0).Apply(ref reader, bytes))
                {
                    case MapOutcome.Keep: typed++; break;
                    case MapOutcome.Filtered: filtered++; break;
                    default: fallback++; break;
                }
            }
            catch (TransformException) { fallback++; }
        }
        return (typed, fallback, filtered, compiled.OnRows, compiled.OnRows && compiled.ForRowLane(0).IsUnboxed && (map.Filter is not null || map.Compute.Count > 0));
    }

    /// <summary>The row-level map over the record shredded alone into a batch of the map's columns (a record the shredder rejects falls back).</summary>
    private static MapOutcome ApplyToRow(TypedStreamMap compiled, ref Utf8JsonReader reader)
    {
        var batch = new DataSpoc.Pipe.Parquet.ColumnBatch(compiled.Columns);
        try { new DataSpoc.Pipe.Parquet.RecordShredder().Shred(batch, ref reader); }
        catch (DataSpoc.Pipe.Parquet.InvalidValueException) { return MapOutcome.Fallback; }
        return compiled.ForRowLane(0).Apply(batch);
    }

    private static async Task<RunResult> Run(TempLake lake, JsonObject map, byte[] singer, bool keepJsonPath, int fileRows)
    {
        var pipeline = lake.Pipeline("typed-" + Guid.NewGuid().ToString("N")[..8], lake.WriteSinger("unused.singer", ""));
        pipeline = pipeline with
        {
            Destination = pipeline.Destination with { MaxFileRows = fileRows },
            Transforms = new Dictionary<string, JsonNode?> { ["s"] = map.DeepClone() },
            OnInvalidRecord = InvalidRecordPolicy.Skip,
        };
        // A code transform on the stream (one that changes nothing) keeps its map on the JSON path.
        IReadOnlyList<IRecordTransform> code = keepJsonPath ? [new DataSpoc.Pipe.Api.CodeTransform("s", r => r)] : [];
        return await new PipelineRunner(new DataSpoc.Pipe.Storage.ObjectStoreFactory())
            .RunAsync(pipeline, new RunOptions { Source = new SingerBytesSource(singer), CodeTransforms = code }, CancellationToken.None);
    }

    private static List<List<string?>> Types(TempLake lake) => lake.ParquetKeys().Count == 0 ? [] :
        lake.Query("select column_name, column_type from (describe select * from read_parquet('{lake}/raw/test/s/**/*.parquet', hive_partitioning = false))");

    private static List<List<string?>> Rows(TempLake lake) => lake.ParquetKeys().Count == 0 ? [] :
        lake.Query("select * from read_parquet('{lake}/raw/test/s/**/*.parquet', hive_partitioning = false) order by all");

    private static bool Same(List<List<string?>> a, List<List<string?>> b) => a.Count == b.Count && a.Zip(b).All(p => p.First.SequenceEqual(p.Second));

    private static string Show(List<List<string?>> rows) => string.Join("\n", rows.Take(40).Select(r => string.Join(" | ", r.Select(v => v ?? "NULL"))));

    private sealed record Column(string Name, string Kind);

    private static List<Column> RandomColumns(Random random)
    {
        var count = random.Next(3, 8);
        var columns = new List<Column> { new("c0", "integer") };
        for (var i = 1; i < count; i++) columns.Add(new Column("c" + i, Kinds[random.Next(Kinds.Length)]));
        return columns;
    }

    private static string SchemaJson(List<Column> columns)
    {
        var properties = new JsonObject();
        foreach (var c in columns)
            properties[c.Name] = c.Kind switch
            {
                "date" or "date-time" or "time" => new JsonObject { ["type"] = new JsonArray("null", "string"), ["format"] = c.Kind },
                "object" => new JsonObject { ["type"] = new JsonArray("null", "object") },
                _ => new JsonObject { ["type"] = new JsonArray("null", c.Kind) },
            };
        return new JsonObject { ["type"] = "object", ["properties"] = properties }.ToJsonString();
    }

    /// <summary>A map over the columns: a filter, computations (one may read another), hashes, casts, a drop and a rename, each now and then.</summary>
    private static JsonObject RandomMap(Random random, List<Column> columns, bool rowLevel)
    {
        var map = new JsonObject();
        string Of(params string[] kinds)
        {
            var matching = columns.Where(c => kinds.Contains(c.Kind)).ToList();
            return matching.Count > 0 ? matching[random.Next(matching.Count)].Name : "c0";
        }
        string Any() => columns[random.Next(columns.Count)].Name;
        // Half the row-level maps keep to expressions over numbers and booleans, which the row form evaluates unboxed
        // (TypedExpression) before the boxed form.
        var numeric = rowLevel && random.Next(2) == 0;

        if (numeric)
        {
            string[] filters =
            [
                $"{Of("integer")} % 3 != 0", $"{Of("number", "integer")} > 0", $"{Of("boolean")} = true", $"not ({Of("boolean")})",
                $"{Of("number")} * {Of("integer")} > 100 and {Of("integer")} != 7", $"-{Of("integer")} <= -2 or {Of("number")} < 0.5",
            ];
            map["filter"] = filters[random.Next(filters.Length)];
        }
        else if (random.Next(3) > 0)
        {
            string[] filters =
            [
                $"{Of("integer")} % 3 != 0", $"{Of("string")} != null", $"{Of("number", "integer")} > 0", $"len({Of("string")}) > 3",
                $"{Of("boolean")} = true", $"{Any()} != null", $"{Of("integer")} > 10 or {Of("string")} = 'yes'", $"{Of("number")}",
            ];
            map["filter"] = filters[random.Next(filters.Length)];
        }
        var computed = new List<string>();
        var compute = new JsonObject();
        for (var i = random.Next(4); i > 0; i--)
        {
            var name = "k" + computed.Count;
            string[] expressions =
            [
                $"{Of("integer")} * 2", $"{Of("number", "integer")} + {Of("integer")}", $"concat({Any()}, '-', {Any()})", $"upper({Of("string")})",
                $"{Of("integer")} / 3", $"if({Of("boolean")} = true, 1, 0)", Any(), $"{Of("number")} > 1.5", "'constant'", "2.5",
                $"{Of("integer")} + 0.5", $"len({Of("string")})", computed.Count > 0 ? computed[^1] + " + 1" : "7",
                computed.Count > 0 ? $"concat({computed[^1]}, 'x')" : "true",
                // Arithmetic of two columns: an integer operand is evaluated once when the other holds a double of one
                // form only (TransformExpression.NumberFormPartners), else in both forms.
                $"{Of("number")} * {Of("integer")}", $"{Of("integer", "number")} - {Of("number")}", $"{Of("number")} / {Of("integer", "number")}",
                $"{Of("number", "integer")} * {Of("number")} > 100",
            ];
            if (numeric)
                expressions =
                [
                    $"{Of("integer")} * 2", $"{Of("integer")} / 3", $"{Of("number")} * {Of("integer")}", $"{Of("integer", "number")} - {Of("number")}",
                    $"{Of("number")} / {Of("integer", "number")}", $"{Of("integer")} % 4", $"if({Of("boolean")}, {Of("number")}, -1.5)",
                    $"{Of("integer")} - 2147483648", $"({Of("number")} ?? 0) * 0.5", $"{Of("number", "integer")} * {Of("number")} > 100",
                ];
            compute[name] = expressions[random.Next(expressions.Length)];
            computed.Add(name);
        }
        if (compute.Count > 0) map["compute"] = compute;
        var candidates = columns.Select(c => c.Name).Concat(rowLevel ? [] : computed).ToList();
        var hashed = candidates.Where(_ => random.Next(6) == 0).ToList();
        if (hashed.Count > 0) map["hash"] = random.Next(2) == 0 ? new JsonArray([.. hashed.Select(h => (JsonNode)h)]) : new JsonObject { ["columns"] = new JsonArray([.. hashed.Select(h => (JsonNode)h)]), ["salt"] = "pepper" };
        var cast = new JsonObject();
        foreach (var c in candidates.Where(_ => random.Next(4) == 0))
        {
            if (rowLevel && hashed.Contains(c)) continue;
            cast[c] = hashed.Contains(c) ? "string" : ColumnCast.Targets[random.Next(rowLevel ? 4 : ColumnCast.Targets.Length)];
        }
        if (cast.Count > 0) map["cast"] = cast;
        var kept = candidates.Where(c => c != "c0").ToList();
        if (random.Next(4) == 0 && kept.Count > 1) map["drop"] = new JsonArray((JsonNode)kept[random.Next(kept.Count)]);
        if (random.Next(4) == 0) map["rename"] = new JsonObject { [kept.Count > 0 ? kept[random.Next(kept.Count)] : "c0"] = "renamed" };
        if (map.Count == 0) map["filter"] = "c0 != null";
        return map;
    }

    private static readonly string[] Strings =
    [
        "yes", "no", "", " 7 ", "42", "-3.5", "true", "2024-02-29", "2024-03-05T10:00:00+02:00", "31/12/2024", "café", "日本語", "😀",
        "quote \\\" here", "back\\\\slash", "tab\\t", "\\u00e9t\\u00e9", "<b>&amp;</b>", "1e3", "abc", "{not json", "[1]", "-0", "false",
    ];

    private static string RandomRecord(Random random, List<Column> columns, JsonObject map)
    {
        var parts = new List<string>();
        foreach (var c in columns.OrderBy(_ => random.Next(8) == 0 ? random.Next() : 0))
        {
            if (random.Next(12) == 0) continue; // missing
            var value = random.Next(10) == 0 ? "null" : random.Next(15) == 0 ? WrongValue(random) : ValueOf(random, c.Kind);
            parts.Add($"\"{c.Name}\":{value}");
        }
        if (random.Next(15) == 0) parts.Add($"\"extra\":{ValueOf(random, "string")}");
        if (random.Next(30) == 0 && map["compute"] is JsonObject compute && compute.Count > 0) parts.Add($"\"{compute.First().Key}\":1");
        var separator = random.Next(2) == 0 ? "," : ", ";
        return "{" + string.Join(separator, parts) + "}";
    }

    private static string WrongValue(Random random) => random.Next(4) switch
    {
        0 => "\"" + Strings[random.Next(Strings.Length)] + "\"",
        1 => random.Next(100).ToString(CultureInfo.InvariantCulture),
        2 => "true",
        _ => "[1,\"a\"]",
    };

    private static string ValueOf(Random random, string kind) => kind switch
    {
        "integer" => random.Next(8) switch
        {
            0 => "9223372036854775807",
            1 => "-1",
            2 => "1.0",
            3 => random.Next(3) switch { 0 => "5.3e1", 1 => "-0", _ => "4611686018427387904" },
            _ => random.Next(-50, 1000).ToString(CultureInfo.InvariantCulture),
        },
        "number" => random.Next(7) switch
        {
            0 => "3",
            5 => random.Next(4) switch { 0 => "9007199254740993", 1 => "1E2", 2 => "-7", _ => "2.5e-3" },
            1 => "12.50",
            2 => "-0.0",
            3 => "1e10",
            _ => (random.NextDouble() * 200 - 50).ToString("R", CultureInfo.InvariantCulture),
        },
        "boolean" => random.Next(2) == 0 ? "true" : "false",
        "string" => "\"" + Strings[random.Next(Strings.Length)] + "\"",
        "date" => random.Next(8) == 0 ? "\"2024-13-01\"" : $"\"{new DateOnly(2000, 1, 1).AddDays(random.Next(10000)):yyyy-MM-dd}\"",
        "date-time" => random.Next(5) switch
        {
            0 => "\"2024-01-01\"",
            1 => "\"2024-06-30T23:59:59.1234567+05:30\"",
            2 => "\"1969-12-31T23:59:59.999999Z\"",
            _ => $"\"{new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddSeconds(random.Next(100_000_000)):yyyy-MM-dd'T'HH:mm:ss'Z'}\"",
        },
        "time" => random.Next(2) == 0 ? "\"10:15:30\"" : "\"23:59:59.5\"",
        _ => random.Next(3) switch
        {
            0 => "{\"a\":1,\"b\":\"é<>\"}",
            1 => "{\"nested\":{\"x\":[1,2.50,null]}}",
            _ => "{}",
        },
    };
}

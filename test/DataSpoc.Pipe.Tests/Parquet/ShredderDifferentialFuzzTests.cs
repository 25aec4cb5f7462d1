using System.Diagnostics;
using System.Text;
using System.Text.Json;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Parquet;

/// <summary>
/// Differential fuzzing of the two shredding paths: seeded random schemas over every column type and random records
/// for them (see <see cref="RandomRecords"/>) go through the pipeline's order of operations (the canonical scan first,
/// the tokenizer when it refuses) and through the tokenizer alone; both batches must hold the same levels and values
/// after every record, and a record the scan takes must be one the tokenizer takes. The seed is new every run and
/// printed; <c>DATASPOC_FUZZ_SEED=n</c> replays one.
/// </summary>
public class ShredderDifferentialFuzzTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Schemas = 250;
    private const int RecordsPerSchema = 48;

    [Fact]
    public void Random_records_shred_identically_through_the_canonical_scan_and_the_tokenizer()
    {
        var seed = FuzzSeed.FromEnvironment();
        output.WriteLine($"seed {seed} (replay with DATASPOC_FUZZ_SEED={seed})");
        var clock = Stopwatch.StartNew();
        long records = 0, canonical = 0, rejected = 0, canonicalUndeclared = 0;
        for (var s = 0; s < Schemas; s++)
        {
            var schemaSeed = unchecked(seed * 7919 + s);
            var random = new RandomRecords(schemaSeed);
            var properties = random.Schema();
            var schemaJson = RandomRecords.SchemaJson(properties);
            // Every third schema is read through a random select/drop/rename, as a transforms map applies it.
            var projection = s % 3 == 2 ? RandomProjection(new Random(schemaSeed), properties) : null;
            var projected = projection is null ? properties : Project(properties, projection);
            var schema = ColumnSchema.FromJsonSchema(JsonDocument.Parse(RandomRecords.SchemaJson(projected)).RootElement, projection);
            var rewrittenSchema = projection is null ? null : ColumnSchema.FromJsonSchema(JsonDocument.Parse(RandomRecords.SchemaJson(projected)).RootElement);
            var rewritten = rewrittenSchema is null ? null : new ColumnBatch(rewrittenSchema);
            var rewrittenShredder = new RecordShredder();
            var fast = new ColumnBatch(schema);
            var slow = new ColumnBatch(schema);
            var fastShredder = new RecordShredder();
            var slowShredder = new RecordShredder();
            for (var r = 0; r < RecordsPerSchema; r++)
            {
                var record = random.Record(properties, random.Chance(0.5) ? RandomStyle.Python : RandomStyle.Compact);
                var bytes = Encoding.UTF8.GetBytes(record);
                records++;
                string Where() => $"seed {seed}, schema {s} (seed {schemaSeed}), record {r}\nschema: {schemaJson}\nrecord: {record}";

                // The pipeline's order: the scan, and on refusal the batch rolled back and the tokenizer.
                fast.Mark();
                var position = 0;
                bool fastTook;
                string? fastError = null;
                if (fastShredder.TryShredCanonical(fast, bytes, ref position) && position == bytes.Length)
                {
                    fastTook = true;
                    canonical++;
                    if (record.Contains("\"undeclared_", StringComparison.Ordinal)) canonicalUndeclared++;
                }
                else
                {
                    fast.RollbackToMark();
                    fastTook = false;
                    fastError = ShredOrError(fastShredder, fast, bytes);
                }
                slow.Mark();
                var slowError = ShredOrError(slowShredder, slow, bytes);
                if (slowError is not null) rejected++;

                if (fastTook && slowError is not null) Assert.Fail($"the canonical scan took a record the tokenizer refuses ({slowError})\n{Where()}");
                Assert.True(fastError == slowError, $"outcomes differ: scan path '{fastError}', tokenizer '{slowError}'\n{Where()}");
                var difference = Difference(schema, slow, fast);
                Assert.True(difference is null, $"{difference}\n{Where()}");
                if (projection is not null && Rewrite(bytes, projection) is { } rewrittenRecord)
                {
                    // Reading through the projection must equal rewriting the record (what a per-record transform does).
                    var rewrittenError = ShredOrError(rewrittenShredder, rewritten!, rewrittenRecord);
                    Assert.True((rewrittenError is null) == (slowError is null), $"projected '{slowError}', rewritten '{rewrittenError}'\n{Where()}\nprojection: {projection.Layout}");
                    difference = Difference(schema, rewritten!, slow);
                    Assert.True(difference is null, $"{difference} (projected vs rewritten)\n{Where()}\nprojection: {projection.Layout}");
                }
                if (fast.Rows >= 16)
                {
                    fast.Clear();
                    slow.Clear();
                    rewritten?.Clear();
                }
            }
            Assert.Equal(slowShredder.DroppedProperties.OrderBy(p => p.Key), fastShredder.DroppedProperties.OrderBy(p => p.Key));
            if (projection is not null)
                Assert.Equal(rewrittenShredder.DroppedProperties.OrderBy(p => p.Key), slowShredder.DroppedProperties.OrderBy(p => p.Key));
        }
        output.WriteLine($"{records} records over {Schemas} schemas in {clock.Elapsed.TotalSeconds:F1} s: {canonical} taken by the canonical scan ({canonicalUndeclared} with undeclared properties), {rejected} refused by both paths");
        Assert.True(records >= 10_000);
        // The fuzzer must mostly exercise the fast path, else it would prove little.
        Assert.True(canonical > records / 4, $"only {canonical} of {records} records took the canonical scan");
        // Undeclared properties must be exercised on the scan itself, not only left to the tokenizer.
        Assert.True(canonicalUndeclared > 100, $"only {canonicalUndeclared} records with undeclared properties took the canonical scan");
    }

    /// <summary>A random select/drop/rename of the top-level properties: some removed, some renamed, the rest shuffled.</summary>
    private static RecordProjection RandomProjection(Random random, IReadOnlyList<RandomProperty> properties)
    {
        var kept = properties.Where(_ => random.NextDouble() < 0.7).ToList();
        if (kept.Count == 0) kept.Add(properties[0]);
        var columns = kept.ToDictionary(p => p.Name, p => random.NextDouble() < 0.4 ? "renamed_" + p.Name : p.Name);
        return new RecordProjection([.. properties.Select(p => (p.Name, columns.TryGetValue(p.Name, out var c) ? c : null))]);
    }

    /// <summary>The output schema's properties, in a shuffled order (select may reorder).</summary>
    private static List<RandomProperty> Project(IReadOnlyList<RandomProperty> properties, RecordProjection projection)
    {
        var output = properties.Where(p => projection.Properties.Any(q => q.Property == p.Name && q.Column is not null))
            .Select(p => p with { Name = projection.Properties.First(q => q.Property == p.Name).Column! }).ToList();
        var random = new Random(output.Count);
        return [.. output.OrderBy(_ => random.Next())];
    }

    /// <summary>The record as a per-record transform leaves it (removed properties gone, renamed ones under their column); null if it is no JSON object.</summary>
    private static byte[]? Rewrite(byte[] record, RecordProjection projection)
    {
        System.Text.Json.Nodes.JsonObject input;
        try { input = System.Text.Json.Nodes.JsonNode.Parse(record)!.AsObject(); }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException) { return null; }
        var output = new System.Text.Json.Nodes.JsonObject();
        foreach (var (key, value) in input.ToList())
        {
            input.Remove(key);
            if (projection.Removed.Contains(key)) continue;
            var column = projection.Properties.FirstOrDefault(p => p.Property == key).Column ?? key;
            output[column] = value;
        }
        return Encoding.UTF8.GetBytes(output.ToJsonString());
    }

    /// <summary>Shreds through the tokenizer as the pipeline does: a value error rolls the batch back and is returned.</summary>
    private static string? ShredOrError(RecordShredder shredder, ColumnBatch batch, byte[] bytes)
    {
        batch.Mark();
        try
        {
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = 256 });
            reader.Read();
            shredder.Shred(batch, ref reader);
            return null;
        }
        catch (Exception e) when (e is InvalidValueException || (e is InvalidOperationException && e.Source == "System.Text.Json"))
        {
            batch.RollbackToMark();
            return e.Message;
        }
    }

    /// <summary>The first difference between two batches' levels and values, or null.</summary>
    internal static string? Difference(ColumnSchema schema, ColumnBatch expected, ColumnBatch actual)
    {
        if (expected.Rows != actual.Rows) return $"rows: {expected.Rows} vs {actual.Rows}";
        for (var c = 0; c < schema.Leaves.Count; c++)
        {
            var (e, a, column) = (expected.Columns[c], actual.Columns[c], schema.Leaves[c].Path);
            if (e.Levels != a.Levels) return $"{column}: {e.Levels} vs {a.Levels} levels";
            if (!e.Def.AsSpan(0, e.Levels).SequenceEqual(a.Def.AsSpan(0, a.Levels))) return $"{column}: definition levels differ";
            if (e.Rep.Length > 0 && !e.Rep.AsSpan(0, e.Levels).SequenceEqual(a.Rep.AsSpan(0, a.Levels))) return $"{column}: repetition levels differ";
            if (e.Values != a.Values) return $"{column}: {e.Values} vs {a.Values} values";
            var n = e.Values;
            if (e.Longs.Length > 0 && !e.Longs.AsSpan(0, n).SequenceEqual(a.Longs.AsSpan(0, n))) return $"{column}: integers differ";
            if (e.Ints.Length > 0 && !e.Ints.AsSpan(0, n).SequenceEqual(a.Ints.AsSpan(0, n))) return $"{column}: dates differ";
            if (e.Bools.Length > 0 && !e.Bools.AsSpan(0, n).SequenceEqual(a.Bools.AsSpan(0, n))) return $"{column}: booleans differ";
            for (var i = 0; i < Math.Min(e.Doubles.Length, n); i++)
                if (BitConverter.DoubleToInt64Bits(e.Doubles[i]) != BitConverter.DoubleToInt64Bits(a.Doubles[i]))
                    return $"{column}: double {i}: {e.Doubles[i]:R} vs {a.Doubles[i]:R}";
            if (e.ByteCount != a.ByteCount || !e.Bytes.AsSpan(0, e.ByteCount).SequenceEqual(a.Bytes.AsSpan(0, a.ByteCount)))
                return $"{column}: bytes differ: '{Encoding.UTF8.GetString(e.Bytes, 0, e.ByteCount)}' vs '{Encoding.UTF8.GetString(a.Bytes, 0, a.ByteCount)}'";
            if (n > 0 && e.Offsets.Length > 0 && !e.Offsets.AsSpan(0, n + 1).SequenceEqual(a.Offsets.AsSpan(0, n + 1))) return $"{column}: value offsets differ";
        }
        return null;
    }
}

using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Tests.Support;
using DataSpoc.Pipe.Transforms;

namespace DataSpoc.Pipe.Tests.Transforms;

/// <summary>
/// <c>hash:</c> on the row path leaves each value for the encoder thread (<see cref="TypedStreamMap.DeferredHashes"/>):
/// the digests written there must be the JSON path's, values already hashed in the same batch (by the JSON path, or by
/// the row path when the encoder was behind) must stay as they are, and the batch's estimated size (which decides when it is flushed) must be what it would be with the
/// digests written on the parsing thread.
/// </summary>
public class DeferredHashTests
{
    private const string Schema = """{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]}}}""";

    [Fact]
    public void Digests_written_before_encoding_are_the_json_path_s_and_the_batch_is_sized_as_if_they_were_there()
    {
        var (map, compiled) = Compile("""{"hash": {"columns": ["name"], "salt": "pepper"}}""");
        Assert.True(compiled.OnRows);
        var batch = new ColumnBatch(compiled.Columns);
        var name = batch.Columns[compiled.Columns.Root.IndexOf("name")];
        string?[] names = ["", "a", "Rafael Brown", new string('x', 62), new string('y', 63), new string('z', 64), new string('w', 300), "café 😀", "tab\there", null];
        var expected = new List<string?>();
        var lane = compiled.ForRowLane(0);
        for (var i = 0; i < names.Length; i++)
        {
            var record = new JsonObject { ["id"] = i, ["name"] = names[i] }.ToJsonString();
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(record));
            reader.Read();
            new RecordShredder().Shred(batch, ref reader);
            // Some rows hashed on the parsing thread (as when the encoder is behind), the others left to the encoder.
            Assert.Equal(MapOutcome.Keep, lane.Apply(batch, hashNow: i % 3 == 1));
            expected.Add(names[i] is null ? null : map.Sha256Hex(names[i]!));
            if (i == 3)
            {
                // A row the JSON path wrote in between: its digest is already there and must be left alone.
                var digest = map.Sha256Hex("written by the json path");
                name.AddBytes(Encoding.UTF8.GetBytes(digest), 0);
                batch.Columns[compiled.Columns.Root.IndexOf("id")].AddLong(100, 0);
                foreach (var other in batch.Columns.Where(c => c != name && c.Leaf.Name != "id")) other.AddNull(0, 0);
                batch.Rows++;
                expected.Add(digest);
            }
        }
        var estimated = batch.EstimatedBytes;
        Assert.NotEqual(0, name.DeferredBytes);
        compiled.DeferredHashes!(batch);
        Assert.Equal(0, name.DeferredBytes);
        Assert.Equal(estimated, batch.EstimatedBytes);
        var written = new List<string?>();
        for (int level = 0, value = 0; level < name.Levels; level++)
        {
            if (name.Def[level] != name.Leaf.DefLevel) { written.Add(null); continue; }
            written.Add(Encoding.UTF8.GetString(name.Bytes, name.Offsets[value], name.Offsets[value + 1] - name.Offsets[value]));
            value++;
        }
        Assert.Equal(expected, written);
        // Once written, a second call changes nothing.
        compiled.DeferredHashes!(batch);
        Assert.Equal(estimated, batch.EstimatedBytes);
    }

    [Fact]
    public void A_map_that_does_not_hash_on_rows_gives_the_writer_no_hook()
    {
        Assert.Null(Compile("""{"filter": "id > 1"}""").Compiled.DeferredHashes);
    }

    private static (StreamMap Map, TypedStreamMap Compiled) Compile(string mapJson)
    {
        using var lake = new TempLake();
        var pipeline = lake.Pipeline("deferred", lake.WriteSinger("unused.singer", "")) with
        {
            Transforms = new Dictionary<string, JsonNode?> { ["s"] = JsonNode.Parse(mapJson) },
        };
        var map = (StreamMap)Assert.Single(TransformCompiler.Compile(pipeline));
        var output = JsonElement.Parse(map.TransformSchema("s", JsonNode.Parse(Schema)!.AsObject()).ToJsonString());
        return (map, TypedStreamMap.TryCompile(map, JsonElement.Parse(Schema), output, "", 1)!);
    }
}

using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Tables;
using DataSpoc.Pipe.Tests.Support;
using PipeCompression = DataSpoc.Pipe.Config.Compression;

namespace DataSpoc.Pipe.Tests.Parquet;

/// <summary>
/// Each column type's statistics: the bounds read back from a written file's footer in Iceberg's single-value
/// serialisation, and the Delta stats value the type makes of them.
/// </summary>
public class ColumnTypeStatisticsTests
{
    private const string SchemaJson = """
        {"type":"object","properties":{
          "i":{"type":"integer"},
          "d":{"type":"number"},
          "m":{"type":"number","multipleOf":0.01},
          "b":{"type":"boolean"},
          "s":{"type":"string"},
          "t":{"type":"string","format":"date-time"},
          "day":{"type":"string","format":"date"},
          "clock":{"type":"string","format":"time"}
        }}
        """;

    [Fact]
    public void Every_type_gives_its_bounds_from_the_footer_and_its_Delta_statistic()
    {
        var schema = ColumnSchema.FromJsonSchema(JsonDocument.Parse(SchemaJson).RootElement);
        var batch = new ColumnBatch(schema);
        var shredder = new RecordShredder();
        foreach (var record in new[]
        {
            """{"i":5,"d":-1.5,"m":-0.01,"b":false,"s":"b","t":"2025-01-01T00:00:00.0005Z","day":"2025-01-02","clock":"10:00"}""",
            """{"i":-7,"d":2.25,"m":300,"b":true,"s":"ab","t":"2025-01-01T00:00:00.0015Z","day":"2024-12-31","clock":"09:00"}""",
            """{"i":null,"d":null,"m":null,"b":null,"s":null,"t":null,"day":null,"clock":null}""",
        })
        {
            var position = 0;
            Assert.True(shredder.TryShredCanonical(batch, Encoding.UTF8.GetBytes(record), ref position));
        }
        using var lake = new TempLake();
        var path = Path.Combine(lake.Root, "stats.parquet");
        using (var file = new ParquetBatchFile(path, schema, PipeCompression.Zstd, ParquetBatchFile.ChooseEncodings(batch)))
        {
            file.WriteRowGroup(batch);
            file.Close();
        }

        var facts = DataFileFooter.Read(path, "k", null).Columns.ToDictionary(c => c.Name);
        Assert.All(facts.Values, c => Assert.Equal((3L, 1L), (c.Values, c.Nulls!.Value)));
        Assert.Equal((-7L, 5L), (BinaryPrimitives.ReadInt64LittleEndian(facts["i"].Lower!), BinaryPrimitives.ReadInt64LittleEndian(facts["i"].Upper!)));
        Assert.Equal((-1.5, 2.25), (BitConverter.ToDouble(facts["d"].Lower!), BitConverter.ToDouble(facts["d"].Upper!)));
        Assert.Equal(new byte[] { 0xFF }, facts["m"].Lower); // -0.01: unscaled -1 in the fewest bytes
        Assert.Equal(new byte[] { 0x75, 0x30 }, facts["m"].Upper); // 300.00: unscaled 30000
        Assert.Equal(new byte[] { 0 }, facts["b"].Lower);
        Assert.Equal(new byte[] { 1 }, facts["b"].Upper);
        Assert.Equal(("ab", "b"), (Encoding.UTF8.GetString(facts["s"].Lower!), Encoding.UTF8.GetString(facts["s"].Upper!)));

        string? Delta(string column, bool upper)
        {
            var leaf = schema.Leaves.Single(l => l.Name == column);
            var type = ColumnType.OfIcebergName(leaf.Type.IcebergName(leaf));
            var bound = upper ? facts[column].Upper! : facts[column].Lower!;
            return type?.DeltaStatistic(bound, roundUp: upper)?.ToJsonString();
        }
        Assert.Equal(("-7", "5"), (Delta("i", false), Delta("i", true)));
        Assert.Equal(("-1.5", "2.25"), (Delta("d", false), Delta("d", true)));
        Assert.Equal("\"ab\"", Delta("s", false));
        Assert.Equal(("\"2024-12-31\"", "\"2025-01-02\""), (Delta("day", false), Delta("day", true)));
        // Delta keeps milliseconds: the minimum rounds down and the maximum up, so no file is skipped wrongly.
        Assert.Equal(("\"2025-01-01T00:00:00.000Z\"", "\"2025-01-01T00:00:00.002Z\""), (Delta("t", false), Delta("t", true)));
        // Delta gets no statistics for decimals, booleans and times.
        Assert.Equal((null, null, null), (Delta("m", false), Delta("b", false), Delta("clock", false)));
    }
}

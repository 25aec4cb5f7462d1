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
    private static string? DeltaStatisticOf(string icebergType, byte[] bound, bool upper) =>
        ColumnType.OfIcebergName(icebergType)!.DeltaStatistic(bound, roundUp: upper)?.ToJsonString();

    private static byte[] Le64(long value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        return bytes;
    }

    private static byte[] Le32(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        return bytes;
    }

    private static long MicrosOf(string isoTimestamp) =>
        (DateTime.Parse(isoTimestamp, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal).Ticks
         - DateTime.UnixEpoch.Ticks) / 10;

    [Theory]
    // Past 2^53 microseconds (about year 2255) a double cannot hold the value: the minimum must still round down and the maximum up.
    [InlineData("5000-01-01T00:00:00.000001Z", "\"5000-01-01T00:00:00.000Z\"", "\"5000-01-01T00:00:00.001Z\"")]
    [InlineData("4999-12-31T23:59:59.999999Z", "\"4999-12-31T23:59:59.999Z\"", "\"5000-01-01T00:00:00.000Z\"")]
    [InlineData("9999-12-31T23:59:59.999Z", "\"9999-12-31T23:59:59.999Z\"", "\"9999-12-31T23:59:59.999Z\"")]
    // The last half-millisecond of 9999 has no millisecond above it: the maximum is left out (a reader then never skips the file on it).
    [InlineData("9999-12-31T23:59:59.9995Z", "\"9999-12-31T23:59:59.999Z\"", null)]
    [InlineData("9999-12-31T23:59:59.999999Z", "\"9999-12-31T23:59:59.999Z\"", null)]
    [InlineData("0001-01-01T00:00:00Z", "\"0001-01-01T00:00:00.000Z\"", "\"0001-01-01T00:00:00.000Z\"")]
    [InlineData("0001-01-01T00:00:00.000001Z", "\"0001-01-01T00:00:00.000Z\"", "\"0001-01-01T00:00:00.001Z\"")]
    // Before 1970 the microseconds are negative: floor and ceiling, not truncation towards zero.
    [InlineData("1969-12-31T23:59:59.999999Z", "\"1969-12-31T23:59:59.999Z\"", "\"1970-01-01T00:00:00.000Z\"")]
    [InlineData("1969-12-31T23:59:59.998001Z", "\"1969-12-31T23:59:59.998Z\"", "\"1969-12-31T23:59:59.999Z\"")]
    public void A_timestamp_statistic_holds_its_value_between_the_minimum_and_the_maximum(string value, string expectedMin, string? expectedMax)
    {
        var bound = Le64(MicrosOf(value));
        Assert.Equal(expectedMin, DeltaStatisticOf("timestamptz", bound, upper: false));
        Assert.Equal(expectedMax, DeltaStatisticOf("timestamptz", bound, upper: true));
    }

    [Fact]
    public void A_bound_outside_what_Delta_can_write_is_left_out_never_an_error()
    {
        // Not written by us (years 1..9999 only), but a footer may say so: no statistic rather than a failed commit.
        Assert.Null(DeltaStatisticOf("timestamptz", Le64(long.MaxValue), upper: true));
        Assert.Null(DeltaStatisticOf("timestamptz", Le64(long.MaxValue), upper: false));
        Assert.Null(DeltaStatisticOf("timestamptz", Le64(long.MinValue), upper: false));
        Assert.Null(DeltaStatisticOf("timestamptz", Le64(long.MinValue), upper: true));
        Assert.Null(DeltaStatisticOf("date", Le32(int.MaxValue), upper: true));
        Assert.Null(DeltaStatisticOf("date", Le32(int.MinValue), upper: false));
        Assert.Equal("\"9999-12-31\"", DeltaStatisticOf("date", Le32(DateOnly.MaxValue.DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber), upper: true));
        Assert.Equal("\"0001-01-01\"", DeltaStatisticOf("date", Le32(DateOnly.MinValue.DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber), upper: false));
        // Integers are exact at their edges (no double on the way).
        Assert.Equal(("-9223372036854775808", "9223372036854775807"), (DeltaStatisticOf("long", Le64(long.MinValue), false), DeltaStatisticOf("long", Le64(long.MaxValue), true)));
        Assert.Equal("9007199254740993", DeltaStatisticOf("long", Le64(9007199254740993), true));
        // Doubles: NaN and the infinities have no JSON number; a negative zero is a valid minimum and round-trips.
        Assert.Null(DeltaStatisticOf("double", BitConverter.GetBytes(double.NaN), true));
        Assert.Null(DeltaStatisticOf("double", BitConverter.GetBytes(double.PositiveInfinity), true));
        Assert.Null(DeltaStatisticOf("double", BitConverter.GetBytes(double.NegativeInfinity), false));
        Assert.Equal(-0.0, double.Parse(DeltaStatisticOf("double", BitConverter.GetBytes(-0.0), false)!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(double.MaxValue, double.Parse(DeltaStatisticOf("double", BitConverter.GetBytes(double.MaxValue), true)!, System.Globalization.CultureInfo.InvariantCulture));
    }
}

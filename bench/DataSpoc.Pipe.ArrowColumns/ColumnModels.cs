using System.Diagnostics;
using System.Text.Json;
using Apache.Arrow;
using Apache.Arrow.Types;
using DataSpoc.Pipe.Parquet;
using ParquetSharp;
using ParquetSharp.Schema;
using TimeUnit = Apache.Arrow.Types.TimeUnit;
using Utf8 = System.Text.Encoding;
using PipeCompression = DataSpoc.Pipe.Config.Compression;

namespace DataSpoc.Pipe.ArrowColumns;

/// <summary>Time spent filling column buffers and writing row groups, over one file.</summary>
internal sealed class Timings
{
    public readonly PhaseClock Append = new(), Write = new();
}

/// <summary>
/// Wall time and the calling thread's CPU time over the intervals between Start and Stop. Both models append and
/// encode on the calling thread only (ParquetSharp's Arrow writer does not use threads unless asked), so thread CPU
/// is the work itself, less disturbed than wall time by other processes on a shared machine.
/// </summary>
internal sealed partial class PhaseClock
{
    private readonly Stopwatch _wall = new();
    private long _cpuStart, _cpuNanos;

    public TimeSpan Elapsed => _wall.Elapsed;
    public double CpuSeconds => _cpuNanos / 1e9;

    public void Start()
    {
        _cpuStart = ThreadCpuNanos();
        _wall.Start();
    }

    public void Stop()
    {
        _wall.Stop();
        _cpuNanos += ThreadCpuNanos() - _cpuStart;
    }

    private struct Timespec
    {
        public long Seconds, Nanoseconds;
    }

    private const int ClockThreadCpuTimeId = 3; // CLOCK_THREAD_CPUTIME_ID (Linux)

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec time);

    private static long ThreadCpuNanos() =>
        ClockGetTime(ClockThreadCpuTimeId, out var t) == 0 ? t.Seconds * 1_000_000_000 + t.Nanoseconds : throw new InvalidOperationException("clock_gettime failed");
}

/// <summary>One way to hold the columns and write them: rows in, one zstd Parquet file out, one row group per batch.</summary>
internal interface IColumnModel
{
    void WriteFile(string path, long rows, int rowGroupRows, Timings timings, Action sample);
}

/// <summary>
/// The engine's path for a typed source: each value through its column type's typed append into a
/// <see cref="LeafBuffer"/> (as <c>Runs/EngineSink</c> does), a full <see cref="ColumnBatch"/> written as one row
/// group by <see cref="ParquetBatchFile"/>, whose encodings are chosen from the first batch.
/// </summary>
internal sealed class EngineColumns : IColumnModel
{
    private static readonly ColumnSchema Schema = ColumnSchema.FromJsonSchema(JsonDocument.Parse(NarrowRows.JsonSchema).RootElement);

    /// <summary>Columns in schema order (the leaves' order is the JSON Schema's).</summary>
    private struct Sink(ColumnBatch batch) : IRowSink
    {
        private readonly LeafBuffer[] _c = batch.Columns;

        public void Row(long id, long userId, ReadOnlySpan<char> name, ReadOnlySpan<char> email, bool emailIsNull,
                        double amount, bool amountIsNull, bool active, string? country, DateTime createdAt)
        {
            Check(_c[0].Leaf.Type.TryAppend(_c[0], id, 0));
            Check(_c[1].Leaf.Type.TryAppend(_c[1], userId, 0));
            Check(_c[2].Leaf.Type.TryAppendString(_c[2], name, 0));
            if (emailIsNull) _c[3].AddNull(0, 0); else Check(_c[3].Leaf.Type.TryAppendString(_c[3], email, 0));
            if (amountIsNull) _c[4].AddNull(0, 0); else Check(_c[4].Leaf.Type.TryAppend(_c[4], amount, 0));
            Check(_c[5].Leaf.Type.TryAppend(_c[5], active, 0));
            if (country is null) _c[6].AddNull(0, 0); else Check(_c[6].Leaf.Type.TryAppendString(_c[6], country, 0));
            Check(_c[7].Leaf.Type.TryAppendInstant(_c[7], createdAt, 0));
            batch.Rows++;
        }

        private static void Check(bool stored)
        {
            if (!stored) throw new InvalidOperationException("a typed append refused a value (the bench's input is wrong)");
        }
    }

    public void WriteFile(string path, long rows, int rowGroupRows, Timings timings, Action sample)
    {
        string[] expected = ["id", "user_id", "name", "email", "amount", "active", "country", "created_at"];
        if (!Schema.Leaves.Select(l => l.Name).SequenceEqual(expected)) throw new InvalidOperationException("column order");
        var batch = new ColumnBatch(Schema);
        ParquetBatchFile? file = null;
        try
        {
            for (long from = 0; from < rows; from += rowGroupRows)
            {
                var count = (int)Math.Min(rowGroupRows, rows - from);
                timings.Append.Start();
                batch.Clear();
                var sink = new Sink(batch);
                NarrowRows.Fill(ref sink, from, count);
                timings.Append.Stop();
                sample();
                timings.Write.Start();
                file ??= new ParquetBatchFile(path, Schema, PipeCompression.Zstd, ParquetBatchFile.ChooseEncodings(batch));
                file.WriteRowGroup(batch);
                timings.Write.Stop();
                sample();
            }
            timings.Write.Start();
            file?.Close();
            timings.Write.Stop();
        }
        finally
        {
            file?.Dispose();
        }
    }
}

/// <summary>
/// Apache.Arrow builders (the field's standard column model) and ParquetSharp's Arrow writer: each batch built into
/// arrays, a <see cref="RecordBatch"/> written as one row group. The writer properties are the engine's: zstd at
/// <see cref="ParquetBatchFile.ZstdLevel"/>, the system memory pool, and the same per-column encodings, chosen from the
/// first batch by the engine's rule (<see cref="ChooseEncodings"/>).
/// </summary>
internal sealed class ArrowColumns : IColumnModel
{
    private static readonly Schema Schema = new Schema.Builder()
        .Field(f => f.Name("id").DataType(Int64Type.Default).Nullable(true))
        .Field(f => f.Name("user_id").DataType(Int64Type.Default).Nullable(true))
        .Field(f => f.Name("name").DataType(StringType.Default).Nullable(true))
        .Field(f => f.Name("email").DataType(StringType.Default).Nullable(true))
        .Field(f => f.Name("amount").DataType(DoubleType.Default).Nullable(true))
        .Field(f => f.Name("active").DataType(BooleanType.Default).Nullable(true))
        .Field(f => f.Name("country").DataType(StringType.Default).Nullable(true))
        .Field(f => f.Name("created_at").DataType(new TimestampType(TimeUnit.Microsecond, "UTC")).Nullable(true))
        .Build();

    private sealed class Builders
    {
        public readonly Int64Array.Builder Id = new(), UserId = new();
        public readonly StringArray.Builder Name = new(), Email = new(), Country = new();
        public readonly DoubleArray.Builder Amount = new();
        public readonly BooleanArray.Builder Active = new();
        public readonly TimestampArray.Builder CreatedAt = new(new TimestampType(TimeUnit.Microsecond, "UTC"));

        public void Clear()
        {
            Id.Clear(); UserId.Clear(); Name.Clear(); Email.Clear(); Country.Clear(); Amount.Clear(); Active.Clear(); CreatedAt.Clear();
        }

        public RecordBatch Build(int rows) => new(Schema,
            [Id.Build(), UserId.Build(), Name.Build(), Email.Build(), Amount.Build(), Active.Build(), Country.Build(), CreatedAt.Build()], rows);
    }

    /// <summary>
    /// Strings go in as UTF-8 bytes, encoded here on the stack: what <c>StringArray.Builder.Append(string)</c> does,
    /// without a string a value (the generator hands out spans, as the engine's typed seam takes them).
    /// </summary>
    private readonly struct Sink(Builders b) : IRowSink
    {
        public void Row(long id, long userId, ReadOnlySpan<char> name, ReadOnlySpan<char> email, bool emailIsNull,
                        double amount, bool amountIsNull, bool active, string? country, DateTime createdAt)
        {
            Span<byte> utf8 = stackalloc byte[128];
            b.Id.Append(id);
            b.UserId.Append(userId);
            b.Name.Append(utf8[..Utf8.UTF8.GetBytes(name, utf8)]);
            if (emailIsNull) b.Email.AppendNull(); else b.Email.Append(utf8[..Utf8.UTF8.GetBytes(email, utf8)]);
            if (amountIsNull) b.Amount.AppendNull(); else b.Amount.Append(amount);
            b.Active.Append(active);
            if (country is null) b.Country.AppendNull(); else b.Country.Append(utf8[..Utf8.UTF8.GetBytes(country, utf8)]);
            b.CreatedAt.Append(new DateTimeOffset(createdAt));
        }
    }

    public void WriteFile(string path, long rows, int rowGroupRows, Timings timings, Action sample)
    {
        var builders = new Builders();
        ParquetSharp.Arrow.FileWriter? writer = null;
        WriterProperties? properties = null;
        try
        {
            for (long from = 0; from < rows; from += rowGroupRows)
            {
                var count = (int)Math.Min(rowGroupRows, rows - from);
                timings.Append.Start();
                builders.Clear();
                var sink = new Sink(builders);
                NarrowRows.Fill(ref sink, from, count);
                using var batch = builders.Build(count);
                timings.Append.Stop();
                sample();
                timings.Write.Start();
                if (writer is null)
                {
                    using var builder = new WriterPropertiesBuilder();
                    ParquetBatchFile.UseCompression(builder, PipeCompression.Zstd);
                    builder.MaxRowGroupLength(int.MaxValue);
                    builder.MemoryPool(MemoryPool.SystemMemoryPool());
                    ChooseEncodings(builder, batch);
                    properties = builder.Build();
                    writer = new ParquetSharp.Arrow.FileWriter(path, Schema, properties);
                }
                writer.WriteRecordBatch(batch, rowGroupRows);
                timings.Write.Stop();
                sample();
            }
            timings.Write.Start();
            writer?.Close();
            timings.Write.Stop();
        }
        finally
        {
            writer?.Dispose();
            properties?.Dispose();
        }
    }

    /// <summary>
    /// The engine's rule (<c>ParquetBatchFile.ChooseEncodings</c>) over an Arrow batch: a column with at least 1,024
    /// values of which half or more of the first 4,096 are distinct is written without a dictionary, integers and
    /// timestamps as DELTA_BINARY_PACKED. (No column of this shape is free text, which the engine also writes without
    /// statistics.) The read-back check compares the two files' encodings.
    /// </summary>
    private static void ChooseEncodings(WriterPropertiesBuilder builder, RecordBatch sample)
    {
        for (var i = 0; i < sample.ColumnCount; i++)
        {
            var column = sample.Column(i);
            var hashes = new HashSet<long>();
            var present = 0;
            for (var row = 0; row < column.Length && present < 4096; row++)
            {
                if (column.IsNull(row)) continue;
                present++;
                hashes.Add(column switch
                {
                    Int64Array a => a.GetValue(row)!.Value,
                    TimestampArray a => a.GetValue(row)!.Value,
                    DoubleArray a => BitConverter.DoubleToInt64Bits(a.GetValue(row)!.Value),
                    BooleanArray a => a.GetValue(row)!.Value ? 1 : 0,
                    StringArray a => HashOf(a.GetBytes(row)),
                    _ => throw new InvalidOperationException(column.GetType().Name),
                });
            }
            if (column.Length - column.NullCount < 1024 || (double)hashes.Count / present < 0.5) continue;
            using var path = new ColumnPath(Schema.FieldsList[i].Name);
            builder.DisableDictionary(path);
            if (column is Int64Array or TimestampArray) builder.Encoding(path, ParquetSharp.Encoding.DeltaBinaryPacked);
        }
    }

    private static long HashOf(ReadOnlySpan<byte> bytes)
    {
        var hash = new HashCode();
        hash.AddBytes(bytes);
        return hash.ToHashCode();
    }
}

/// <summary>The generator alone, into nothing: the part of both append times that is not the column model.</summary>
internal sealed class GeneratorOnly : IColumnModel
{
    private struct Sink : IRowSink
    {
        public long Checksum;

        public void Row(long id, long userId, ReadOnlySpan<char> name, ReadOnlySpan<char> email, bool emailIsNull,
                        double amount, bool amountIsNull, bool active, string? country, DateTime createdAt) =>
            Checksum += id + userId + name.Length + email.Length + createdAt.Ticks + (country?.Length ?? 0);
    }

    public long Checksum { get; private set; }

    public void WriteFile(string path, long rows, int rowGroupRows, Timings timings, Action sample)
    {
        var sink = new Sink();
        for (long from = 0; from < rows; from += rowGroupRows)
        {
            timings.Append.Start();
            NarrowRows.Fill(ref sink, from, (int)Math.Min(rowGroupRows, rows - from));
            timings.Append.Stop();
        }
        Checksum = sink.Checksum;
    }
}

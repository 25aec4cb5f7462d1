using System.Text.Json;
using DataSpoc.Pipe.BenchData;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Singer;

namespace DataSpoc.Pipe.Benchmarks;

/// <summary>A generated Singer stream in memory (about 59 MB either shape), with its column schema as the engine maps it.</summary>
public sealed class EngineInput
{
    public byte[] Bytes { get; }
    internal ColumnSchema Schema { get; }
    public int Records { get; }

    public EngineInput(string shape)
    {
        Records = shape == "narrow" ? 262_144 : 30_000; // one engine row group of narrow rows; ~59 MB of wide ones
        using var buffer = new MemoryStream();
        SingerFile.Write(SingerFile.Shape(shape), Records, buffer);
        Bytes = buffer.ToArray();
        var firstLine = Bytes.AsSpan(0, Bytes.AsSpan().IndexOf((byte)'\n'));
        using var schemaMessage = JsonDocument.Parse(firstLine.ToArray());
        Schema = ColumnSchema.FromJsonSchema(schemaMessage.RootElement.GetProperty("schema"));
    }

    internal SingerLineReader Lines() => new(new MemoryStream(Bytes, writable: false));

    /// <summary>Reads the whole input into <paramref name="handler"/> as a run does with one parsing lane.</summary>
    internal void ReadInto(ISingerHandler handler)
    {
        using var lines = Lines();
        new ParallelSingerReader([handler], handler).ReadAll(lines, CancellationToken.None);
    }

    /// <summary>Every record shredded into one batch (what the encoder gets).</summary>
    internal ColumnBatch ShredAll()
    {
        var handler = new ShreddingHandler(Schema, int.MaxValue);
        ReadInto(handler);
        return handler.Batch;
    }
}

/// <summary>Reads messages and skips record bodies: the cost of the Singer envelope and JSON tokenizing alone.</summary>
internal sealed class SkippingHandler : ISingerHandler
{
    public long Records;
    public void OnSchema(string stream, JsonElement schema, IReadOnlyList<string> keyProperties, long line) { }
    public void OnRecord(ReadOnlySpan<byte> streamUtf8, ref Utf8JsonReader record, ReadOnlySpan<byte> rawLine, long line)
    {
        record.Skip();
        Records++;
    }
    public void OnState(JsonElement value, long line) { }
    public void OnActivateVersion(string stream, long version, long line) { }
    public void OnUnknown(string type, long line) { }
}

/// <summary>
/// Reads messages and shreds each record into a column batch, cleared every <c>batchRows</c> (as the engine hands
/// batches off); with <c>canonical</c>, records of the usual shape take the engine's canonical scan, as in a run.
/// </summary>
internal sealed class ShreddingHandler(ColumnSchema schema, int batchRows, bool canonical = true) : ISingerHandler
{
    private readonly RecordShredder _shredder = new();
    public ColumnBatch Batch { get; } = new(schema);
    public long Records;
    public void OnRecordLines(in RecordLines lines, SingerMessageReader reader)
    {
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            if (canonical && SingerEnvelope.TryCanonical(line, out _, out var recordStart))
            {
                if (Batch.Rows == batchRows) Batch.Clear();
                Batch.Mark();
                var end = recordStart;
                if (_shredder.TryShredCanonical(Batch, line, ref end) && SingerEnvelope.IsCompleteAfterRecord(line, end))
                {
                    Records++;
                    continue;
                }
                Batch.RollbackToMark();
            }
            reader.DispatchLine(line, lines.LineNumber(i), lines.Unterminated(i));
        }
    }
    public void OnSchema(string stream, JsonElement schema, IReadOnlyList<string> keyProperties, long line) { }
    public void OnRecord(ReadOnlySpan<byte> streamUtf8, ref Utf8JsonReader record, ReadOnlySpan<byte> rawLine, long line)
    {
        if (Batch.Rows == batchRows) Batch.Clear();
        Batch.Mark();
        _shredder.Shred(Batch, ref record);
        Records++;
    }
    public void OnState(JsonElement value, long line) { }
    public void OnActivateVersion(string stream, long version, long line) { }
    public void OnUnknown(string type, long line) { }
}

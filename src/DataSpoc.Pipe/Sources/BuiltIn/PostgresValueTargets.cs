using DataSpoc.Pipe.Parquet;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// Where <see cref="PostgresColumn.Write{TValues,TTarget}"/> puts a value it has read: a row writer's property
/// (<see cref="RowWriterTarget"/>), or a column's leaf buffer directly (<see cref="LeafBufferTarget"/>). Each call
/// returns false when the target declines the value.
/// </summary>
/// <remarks>Implemented by structs and used as a generic constraint, so the per-value calls are not virtual.</remarks>
internal interface IPostgresValueTarget
{
    /// <summary>
    /// Whether <see cref="Utf8String"/> declines bytes that are not valid UTF-8 by itself, so the reader need not check
    /// them first (a declined value is read again through a target that does not, and fails there naming its column).
    /// </summary>
    bool ChecksUtf8 { get; }
    bool Null();
    bool Long(long value);
    bool Double(double value);
    bool Decimal(decimal value);
    bool Bool(bool value);
    bool String(ReadOnlySpan<char> value);
    bool Utf8String(ReadOnlySpan<byte> value);
    bool Date(DateOnly value);
    bool Timestamp(DateTime utc);
    bool Time(TimeOnly value);
    bool Base64(ReadOnlySpan<byte> value);
    bool Json(ReadOnlySpan<byte> value);
    bool Json(ReadOnlySpan<char> value);
}

/// <summary>Property <c>property</c> of the current row of <c>row</c>: takes every value.</summary>
internal readonly struct RowWriterTarget(RowWriter row, int property) : IPostgresValueTarget
{
    public bool ChecksUtf8 => false;
    public bool Null() { row.Null(property); return true; }
    public bool Long(long value) { row.Long(property, value); return true; }
    public bool Double(double value) { row.Double(property, value); return true; }
    public bool Decimal(decimal value) { row.Decimal(property, value); return true; }
    public bool Bool(bool value) { row.Bool(property, value); return true; }
    public bool String(ReadOnlySpan<char> value) { row.String(property, value); return true; }
    public bool Utf8String(ReadOnlySpan<byte> value) { row.Utf8String(property, value); return true; }
    public bool Date(DateOnly value) { row.Date(property, value); return true; }
    public bool Timestamp(DateTime utc) { row.Timestamp(property, utc); return true; }
    public bool Time(TimeOnly value) { row.Time(property, value); return true; }
    public bool Base64(ReadOnlySpan<byte> value) { row.Base64(property, value); return true; }
    public bool Json(ReadOnlySpan<byte> value) { row.Json(property, value); return true; }
    public bool Json(ReadOnlySpan<char> value) { row.Json(property, value); return true; }
}

/// <summary>
/// A flat top-level column's leaf buffer (<see cref="DirectRows"/>): a value goes in through its column type's typed
/// append, exactly as the engine's row writer stores it; one the type leaves to the JSON path is declined, and so is
/// JSON text, which only the shredder stores.
/// </summary>
internal readonly struct LeafBufferTarget(LeafBuffer buffer) : IPostgresValueTarget
{
    private ColumnType Type => buffer.Leaf.Type;

    /// <summary>Every column type's UTF-8 append stores valid UTF-8 only: a string column checks it, the others parse ASCII forms.</summary>
    public bool ChecksUtf8 => true;

    public bool Null() { buffer.AddNull(0, 0); return true; }
    public bool Long(long value) => Type.TryAppend(buffer, value, 0);
    public bool Double(double value) => Type.TryAppend(buffer, value, 0);
    public bool Decimal(decimal value) => Type.TryAppend(buffer, value, 0);
    public bool Bool(bool value) => Type.TryAppend(buffer, value, 0);
    public bool String(ReadOnlySpan<char> value) => Type.TryAppendString(buffer, value, 0);
    public bool Utf8String(ReadOnlySpan<byte> value) => Type.TryAppendUtf8(buffer, value, 0);
    public bool Date(DateOnly value) => Type.TryAppend(buffer, value, 0);
    public bool Timestamp(DateTime utc) => Type.TryAppendInstant(buffer, utc, 0);
    public bool Time(TimeOnly value) => Type.TryAppend(buffer, value, 0);
    public bool Base64(ReadOnlySpan<byte> value) => Type.TryAppendBase64(buffer, value, 0);
    public bool Json(ReadOnlySpan<byte> value) => false;
    public bool Json(ReadOnlySpan<char> value) => false;
}

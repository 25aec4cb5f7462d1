using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// Typed values written as JSON values into a buffer it owns, in the forms <see cref="SingerJsonSink"/> prints (dates
/// <c>yyyy-MM-dd</c>, instants <c>yyyy-MM-ddTHH:mm:ss.ffffffZ</c>, times <c>HH:mm:ss.ffffff</c>). Property indexes are
/// ignored: the caller writes names and structure on <see cref="Writer"/>. It turns a source's typed values into JSON
/// text where JSON is what goes on: a nested Parquet value (handed over with <see cref="RowWriter.Json(int, ReadOnlySpan{byte})"/>)
/// and the records of a BATCH file.
/// </summary>
internal sealed class JsonValueWriter : RowWriter
{
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);

    public JsonValueWriter() => Writer = new Utf8JsonWriter(_buffer, Options);

    public Utf8JsonWriter Writer { get; }

    /// <summary>Empties the buffer for the next value.</summary>
    public void Reset()
    {
        _buffer.ResetWrittenCount();
        Writer.Reset(_buffer);
    }

    /// <summary>What was written since <see cref="Reset"/>.</summary>
    public ReadOnlySpan<byte> Written
    {
        get
        {
            Writer.Flush();
            return _buffer.WrittenSpan;
        }
    }

    public override void BeginRow() => throw new NotSupportedException("a JSON value writer takes values, not rows");
    public override void EndRow() => throw new NotSupportedException("a JSON value writer takes values, not rows");
    public override void WriteJsonRow(ReadOnlySpan<byte> recordObject) => throw new NotSupportedException("a JSON value writer takes values, not rows");

    public override void Null(int property) => Writer.WriteNullValue();
    public override void Long(int property, long value) => Writer.WriteNumberValue(value);
    /// <summary>
    /// NaN and the infinities as the strings <c>"NaN"</c>, <c>"Infinity"</c> and <c>"-Infinity"</c>, which a number
    /// column reads back as those doubles (rows of the lake's own files going back into it); when false, null.
    /// </summary>
    public bool NamedFloatsAsStrings { get; init; }

    /// <summary>Inside a JSON value (a nested Parquet list or struct) NaN and the infinities are null unless <see cref="NamedFloatsAsStrings"/> (the parquet tap sets it): JSON text cannot hold them as numbers.</summary>
    public override void Double(int property, double value)
    {
        if (double.IsFinite(value)) SingerJsonSink.WriteDouble(Writer, value);
        else if (NamedFloatsAsStrings) Writer.WriteStringValue(NamedFloatLiterals.Word(value));
        else Writer.WriteNullValue();
    }
    public override void Decimal(int property, decimal value) => Writer.WriteNumberValue(value);
    public override void Bool(int property, bool value) => Writer.WriteBooleanValue(value);
    public override void String(int property, ReadOnlySpan<char> value) => Writer.WriteStringValue(value);
    public override void Utf8String(int property, ReadOnlySpan<byte> value) => Writer.WriteStringValue(value);

    public override void Date(int property, DateOnly value) => SingerJsonSink.WriteDate(Writer, value);
    public override void Timestamp(int property, DateTime utc) => SingerJsonSink.WriteTimestamp(Writer, utc);
    public override void Time(int property, TimeOnly value) => SingerJsonSink.WriteTime(Writer, value);
    public override void Base64(int property, ReadOnlySpan<byte> value) => Writer.WriteBase64StringValue(value);
    public override void Json(int property, ReadOnlySpan<byte> value) => Writer.WriteRawValue(value, skipInputValidation: true);
    public override void Json(int property, ReadOnlySpan<char> value) => Writer.WriteRawValue(value, skipInputValidation: true);
}

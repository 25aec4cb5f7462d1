using System.Text.Json.Nodes;
using DataSpoc.Pipe.Parquet;

namespace DataSpoc.Pipe.Sources;

/// <summary>
/// Where a source written in C# (a built-in tap, a code source) puts what it extracts: the Singer messages, with
/// every record given as typed values rather than JSON text. One kind of sink prints Singer JSON lines
/// (<c>dataspoc-pipe tap</c>; <see cref="BuiltIn.SingerJsonSink"/>); the engine's sink appends the values straight
/// to the stream's column buffers, so a built-in source costs no JSON round trip. For the same calls both give
/// the same lake.
/// </summary>
/// <remarks>
/// Calls come from one thread (the source's). A sink may block in <see cref="FlushIfFullAsync"/> to hold a fast
/// source back; a source calls it after every row.
/// </remarks>
internal abstract class RecordSink
{
    /// <summary>
    /// A SCHEMA message. The returned writer takes the stream's rows; a row's values are given by property index,
    /// the position of the property in <paramref name="schema"/>'s <c>properties</c>. A stream declared again (a
    /// new schema) gets a new writer; the old one must not be used after that.
    /// </summary>
    public abstract RowWriter WriteSchema(string stream, JsonObject schema, IReadOnlyList<string> keyProperties, IReadOnlyList<string>? bookmarkProperties = null);

    /// <summary>A STATE message (the bookmark saved once every row before it is in the lake).</summary>
    public abstract void WriteState(JsonNode state);

    /// <summary>Singer's ACTIVATE_VERSION: rows of any other version are obsolete, so the lake replaces the stream's table.</summary>
    public abstract void WriteActivateVersion(string stream, long version);

    /// <summary>Rows written so far, all streams.</summary>
    public abstract long Records { get; }

    /// <summary>Hands buffered work on once enough has gathered (cheap otherwise); call it after each row.</summary>
    public abstract ValueTask FlushIfFullAsync(CancellationToken cancellationToken);

    /// <summary>Hands on everything buffered; call it at the end and before waiting on anything slow.</summary>
    public abstract ValueTask FlushAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The sink failed on its own (the engine's error, such as an invalid record under <c>on_invalid_record: fail</c>) and
    /// threw it into the source: the source stops as when its reader stops it, and the sink's owner reports the error.
    /// </summary>
    public virtual bool Failed => false;

    /// <summary>
    /// Something the run log should say that is not a message of the Singer protocol (a file with nothing in it); a
    /// sink that is not a run's drops it.
    /// </summary>
    public virtual void WriteNotice(string notice) { }

    /// <summary>
    /// A file was counted as read without reading it (a table's compaction of rows an earlier run read; its notice says
    /// which), so a run that lands nothing says why; a sink that is not a run's ignores it.
    /// </summary>
    public virtual void NoteFileSkippedAsRead() { }

    /// <summary>
    /// Where the source's current row comes from, for an error about one of its values (<c>file.parquet row group 0
    /// row 5</c>): a source whose rows are not lines sets it (and clears it when done); without it an error names the line
    /// the row's RECORD message would have had.
    /// </summary>
    public Func<string>? RowOrigin { get; set; }

    /// <summary>
    /// The file the source's current rows were read from, set by a file tap whose rows the engine decodes from their JSON
    /// (<see cref="RowWriter.WriteJsonRow"/>: jsonl), so the run log's notice of values cut to the microsecond names it.
    /// </summary>
    public string? RowFile { get; set; }

    /// <summary>
    /// Called by a source that has no lines (a code source) before its first message: the run's errors and notices then
    /// name its records by their number in their stream (<c>stream 'events', record 7</c>) instead of the line each
    /// record's message would have had; a sink that is not a run's ignores it.
    /// </summary>
    public virtual void NumberRecordsPerStream() { }

    /// <summary>Whether the tables the rows land in keep the latest row per key (<c>write_mode: merge</c>), so a row sent again replaces its earlier copy.</summary>
    public virtual bool MergesByKey => false;
}

/// <summary>
/// The rows of one stream, one at a time: <see cref="BeginRow"/>, a value call per property (a property not given
/// is missing from the record, which the lake stores as null), <see cref="EndRow"/>. Values are given in the
/// form the source has them; the sink converts them to the column's type exactly as the JSON path would read the
/// same value (a value that does not fit the column is rejected as an invalid record, under the pipeline's
/// <c>on_invalid_record</c>).
/// </summary>
internal abstract class RowWriter
{
    public abstract void BeginRow();
    public abstract void EndRow();

    /// <summary>A whole record as a JSON object, instead of BeginRow..EndRow (sources whose rows are JSON: jsonl).</summary>
    public abstract void WriteJsonRow(ReadOnlySpan<byte> recordObject);

    public abstract void Null(int property);
    public abstract void Long(int property, long value);
    /// <summary>A double: NaN and the infinities land as such in a number column (printed as Python prints them: <c>NaN</c>, <c>Infinity</c>, <c>-Infinity</c>); any other column refuses them.</summary>
    public abstract void Double(int property, double value);
    public abstract void Decimal(int property, decimal value);
    public abstract void Bool(int property, bool value);
    public abstract void String(int property, ReadOnlySpan<char> value);
    /// <summary>A string given as UTF-8 bytes (valid UTF-8).</summary>
    public abstract void Utf8String(int property, ReadOnlySpan<byte> value);
    public abstract void Date(int property, DateOnly value);
    /// <summary>An instant, to the microsecond (finer ticks are dropped); <paramref name="utc"/> is read as UTC whatever its Kind.</summary>
    public abstract void Timestamp(int property, DateTime utc);
    public abstract void Time(int property, TimeOnly value);
    /// <summary>Bytes, stored as their base64 text (JSON Schema's <c>contentEncoding: base64</c>).</summary>
    public abstract void Base64(int property, ReadOnlySpan<byte> value);
    /// <summary>Any JSON value as its text, UTF-8: an object, an array, or a number kept exactly as written.</summary>
    public abstract void Json(int property, ReadOnlySpan<byte> value);
    /// <summary>Any JSON value as its text.</summary>
    public abstract void Json(int property, ReadOnlySpan<char> value);

    /// <summary>
    /// The stream's column buffers, for a source that stores whole rows straight into them (<see cref="DirectRows"/>), or
    /// null when its rows must go value by value through this writer (the default; a sink that prints, a stream whose
    /// rows are recorded, transformed or have nested columns).
    /// </summary>
    public virtual DirectRows? Direct => null;
}

/// <summary>
/// Rows stored straight into a stream's column buffers, with no call per value through a <see cref="RowWriter"/>: the
/// fast path of a source that decodes many rows of flat values (the postgres tap's binary COPY). Each top-level
/// property is one leaf column, and every property is given in every row. A value is appended with its column type's
/// typed append (<see cref="ColumnType"/>); when one declines a value (it needs the JSON path's conversion or error),
/// the source abandons the row and gives it again through the <see cref="RowWriter"/>, which decides as it always does.
/// </summary>
internal abstract class DirectRows
{
    /// <summary>Starts a row: per property (the schema's order), the buffer its value goes to, valid until the row ends.</summary>
    public abstract ReadOnlySpan<LeafBuffer> BeginRow();

    /// <summary>Ends a row whose every property got one value (or null): it counts as a record, as <see cref="RowWriter.EndRow"/>.</summary>
    public abstract void EndRow();

    /// <summary>Drops what the row appended so far: the row is then given again value by value.</summary>
    public abstract void AbandonRow();
}

/// <summary>
/// Rows whose values are not kept, only the rows themselves: the rows of a stream that is not selected (counted, then
/// dropped), and the sinks of benchmarks that time a source alone. Each value call does nothing.
/// </summary>
internal abstract class RowsWithoutValues : RowWriter
{
    public override void BeginRow() { }
    public override void WriteJsonRow(ReadOnlySpan<byte> recordObject) => EndRow();
    public override void Null(int property) { }
    public override void Long(int property, long value) { }
    public override void Double(int property, double value) { }
    public override void Decimal(int property, decimal value) { }
    public override void Bool(int property, bool value) { }
    public override void String(int property, ReadOnlySpan<char> value) { }
    public override void Utf8String(int property, ReadOnlySpan<byte> value) { }
    public override void Date(int property, DateOnly value) { }
    public override void Timestamp(int property, DateTime utc) { }
    public override void Time(int property, TimeOnly value) { }
    public override void Base64(int property, ReadOnlySpan<byte> value) { }
    public override void Json(int property, ReadOnlySpan<byte> value) { }
    public override void Json(int property, ReadOnlySpan<char> value) { }
}

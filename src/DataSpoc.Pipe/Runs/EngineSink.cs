using System.Buffers;
using System.Runtime.ExceptionServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Singer;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Transforms;

namespace DataSpoc.Pipe.Runs;

/// <summary>
/// The engine's <see cref="RecordSink"/>: a C# source (a typed built-in tap, a code source) writes its rows straight
/// into the streams' column batches, with no Singer JSON text in between. SCHEMA, STATE and ACTIVATE_VERSION reach
/// <see cref="RunIngest"/> as the Singer reader hands them over, in call order, so a STATE follows every row before it.
/// The lake is the one the same calls printed by <see cref="SingerJsonSink"/> and read back would give: same values,
/// counts, rejections (their messages name the line that RECORD would have had) and quarantine lines.
/// </summary>
/// <remarks>
/// Runs on the source's thread, through parsing lane 0 (the reader's lanes are idle: nothing is read). A stream whose
/// records a transform rewrites, and a whole JSON record (<see cref="RowWriter.WriteJsonRow"/>), take the Singer
/// reader's own path: the RECORD line is printed and handed to the lane as the reader would hand it. A map that works on
/// rows (<see cref="TypedStreamMap.OnRows"/>) runs on the typed row instead; only a row it hands back is printed.
/// An error of the engine's (an invalid record under <c>on_invalid_record: fail</c>, a bad SCHEMA, a full disk) is
/// thrown into the source, which stops; the runner then reports it from <see cref="ThrowIfFailed"/> as its own.
/// </remarks>
internal sealed class EngineSink(RunIngest ingest) : RecordSink
{
    /// <summary>What SingerWriter writes with: the same text, so the same SCHEMA and STATE as a printed run.</summary>
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };

    private readonly RunIngest _ingest = ingest;
    private readonly ISingerHandler _lane = ingest.Lanes[0];
    private SingerMessageReader? _laneReader;
    /// <summary>The line the last message would have had in the source's Singer output (each message is one line).</summary>
    private long _line;
    private long _records;
    private long _calls;
    private Exception? _failure;

    public override long Records => _records;

    /// <summary>Messages and rows taken so far (the runner's idle timeout watches it change).</summary>
    public long Activity => Volatile.Read(ref _calls);

    /// <summary>Rethrows the engine's own error, when one stopped the source.</summary>
    public void ThrowIfFailed()
    {
        if (_failure is { } failure) ExceptionDispatchInfo.Capture(failure).Throw();
    }

    /// <summary>Whether the engine stopped the source (its error is the run's, not the source's).</summary>
    public override bool Failed => _failure is not null;

    public override RowWriter WriteSchema(string stream, JsonObject schema, IReadOnlyList<string> keyProperties, IReadOnlyList<string>? bookmarkProperties = null)
    {
        try
        {
            var line = NextLine();
            _ingest.RecordNumbers?.OnSchema(line, stream);
            // Read as the Singer reader reads a SCHEMA line: a schema nests about two JSON levels a column level.
            using (var document = JsonDocument.Parse(Serialize(schema), new JsonDocumentOptions { MaxDepth = SingerMessageReader.MaxDepth }))
                _ingest.OnSchema(stream, document.RootElement.Clone(), keyProperties, line);
            var state = _ingest.StreamNamed(stream);
            if (!state.Selected) return new IgnoredRows(this, state);
            var printer = new LinePrinter(stream, schema, keyProperties);
            // A map on rows runs on the typed row; any other record transform reads the printed RECORD line.
            if (state.RecordTransforms.Count > 0 && state.TypedMap is not { OnRows: true }) return new PrintedRows(this, state, printer);
            return new TypedRows(this, state, schema, printer);
        }
        catch (Exception e)
        {
            throw Fail(e);
        }
    }

    public override bool MergesByKey => _ingest.MergesByKey;

    public override void NumberRecordsPerStream() => _ingest.RecordNumbers ??= new RecordNumbers();

    public override void WriteNotice(string notice)
    {
        lock (_ingest.SourceNotices) _ingest.SourceNotices.Add(notice);
    }

    public override void NoteFileSkippedAsRead() => Interlocked.Increment(ref _ingest.FilesSkippedAsRead);

    public override void WriteState(JsonNode state)
    {
        try
        {
            var line = NextLine();
            _ingest.RecordNumbers?.OnOtherMessage(line);
            // Read back from its text, as the Singer reader would: the committed state is byte for byte the printed run's.
            _ingest.OnState(SingerState.FromJson(System.Text.Encoding.UTF8.GetString(Serialize(state))), line);
        }
        catch (Exception e)
        {
            throw Fail(e);
        }
    }

    public override void WriteActivateVersion(string stream, long version)
    {
        try
        {
            var line = NextLine();
            _ingest.RecordNumbers?.OnOtherMessage(line);
            _ingest.OnActivateVersion(stream, version, line);
        }
        catch (Exception e)
        {
            throw Fail(e);
        }
    }

    public override ValueTask FlushIfFullAsync(CancellationToken cancellationToken)
    {
        // Rows are in the batches already, and a full batch went to the encoder (waiting for it: back-pressure).
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.CompletedTask;
    }

    public override ValueTask FlushAsync(CancellationToken cancellationToken) => FlushIfFullAsync(cancellationToken);

    private long NextLine()
    {
        _calls++;
        return ++_line;
    }

    private Exception Fail(Exception e)
    {
        _failure ??= e;
        return e;
    }

    private static byte[] Serialize(JsonNode node)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer, JsonOptions)) node.WriteTo(json);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A RECORD line handed to lane 0 exactly as the Singer reader hands it one.</summary>
    private void DispatchRecordLine(byte[] buffer, int length, long line)
    {
        _laneReader ??= new SingerMessageReader(_lane);
        ReadOnlySpan<int> starts = [0];
        ReadOnlySpan<int> lengths = [length];
        ReadOnlySpan<long> numbers = [line];
        _ingest.DispatchedRowOrigin = RowOrigin;
        try
        {
            _lane.OnRecordLines(new RecordLines(buffer, starts, lengths, numbers, false), _laneReader);
        }
        finally
        {
            _ingest.DispatchedRowOrigin = null;
        }
    }

    /// <summary>
    /// Prints a stream's rows as its RECORD lines, one at a time, with <see cref="SingerJsonSink"/> itself: the line a
    /// row goes through the reader's path as, or is quarantined as.
    /// </summary>
    private sealed class LinePrinter
    {
        private readonly MemoryStream _output = new();
        private readonly SingerJsonSink _sink;

        public LinePrinter(string stream, JsonObject schema, IReadOnlyList<string> keyProperties)
        {
            _sink = new SingerJsonSink(_output);
            Rows = _sink.WriteSchema(stream, schema, keyProperties);
            Take(); // the SCHEMA line: already handed over
        }

        /// <summary>Where a row is printed, between <see cref="RowWriter.BeginRow"/> and <see cref="RowWriter.EndRow"/>.</summary>
        public RowWriter Rows { get; }

        /// <summary>The line printed since the last call, without its newline: valid until the next print.</summary>
        public (byte[] Buffer, int Length) Take()
        {
            _sink.FlushAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult(); // a MemoryStream: synchronous
            var length = (int)_output.Length;
            _output.SetLength(0);
            return (_output.GetBuffer(), Math.Max(length - 1, 0));
        }
    }

    /// <summary>Rows of a stream the pipeline does not select: counted, as the reader counts their RECORD lines.</summary>
    private sealed class IgnoredRows(EngineSink sink, StreamState state) : RowsWithoutValues
    {
        public override void EndRow()
        {
            sink.NextLine();
            sink._records++;
            Interlocked.Increment(ref state.Ignored);
        }
    }

    /// <summary>Rows of a stream whose records a transform rewrites: printed as RECORD lines and read by the reader's path.</summary>
    private sealed class PrintedRows(EngineSink sink, StreamState state, LinePrinter printer) : RowWriter
    {
        private readonly RowWriter _rows = printer.Rows;
        private readonly RoundedNumbers _rounded = state.Writer!.Shredders[0].RoundedNumbers;

        public override void BeginRow() => _rows.BeginRow();

        public override void EndRow()
        {
            _rows.EndRow();
            Dispatch();
        }

        public override void WriteJsonRow(ReadOnlySpan<byte> recordObject)
        {
            _rounded.File = sink.RowFile;
            _rows.WriteJsonRow(recordObject);
            Dispatch();
        }

        private void Dispatch()
        {
            var line = sink.NextLine();
            sink._records++;
            var (buffer, length) = printer.Take();
            try { sink.DispatchRecordLine(buffer, length, line); }
            catch (Exception e) { throw sink.Fail(e); }
        }

        public override void Null(int property) => _rows.Null(property);
        public override void Long(int property, long value) => _rows.Long(property, value);
        public override void Double(int property, double value) => _rows.Double(property, value);
        public override void Decimal(int property, decimal value) => _rows.Decimal(property, value);
        public override void Bool(int property, bool value) => _rows.Bool(property, value);
        public override void String(int property, ReadOnlySpan<char> value) => _rows.String(property, value);
        public override void Utf8String(int property, ReadOnlySpan<byte> value) => _rows.Utf8String(property, value);
        public override void Date(int property, DateOnly value) => _rows.Date(property, value);
        public override void Timestamp(int property, DateTime utc) => _rows.Timestamp(property, utc);
        public override void Time(int property, TimeOnly value) => _rows.Time(property, value);
        public override void Base64(int property, ReadOnlySpan<byte> value) => _rows.Base64(property, value);
        public override void Json(int property, ReadOnlySpan<byte> value) => _rows.Json(property, value);
        public override void Json(int property, ReadOnlySpan<char> value) => _rows.Json(property, value);
    }

    /// <summary>
    /// Rows appended value by value to the stream's batch (<see cref="ColumnType"/>'s typed appends). A value the
    /// column type does not store itself goes as its JSON text through the shredder, which stores it or rejects the
    /// record as a RECORD line would be. When a column's value picks the partition, or a rejected row must be
    /// quarantined as its line, the row's values are recorded first (<see cref="RowRecording"/>) and appended at
    /// <see cref="EndRow"/>.
    /// </summary>
    private sealed class TypedRows : RowWriter
    {
        private readonly EngineSink _sink;
        private readonly StreamState _state;
        private readonly TableWriter _writer;
        private readonly RecordShredder _shredder;
        private readonly LinePrinter _printer;
        /// <summary>Per property (tap schema order), the top-level column it fills, or null for one a transform removes.</summary>
        private readonly SchemaNode?[] _columnOf;
        /// <summary>Per property, its top-level column's index (in <see cref="_columns"/>), or -1.</summary>
        private readonly int[] _childOf;
        /// <summary>Per property, its leaf's column index, or -1 (a nested column, or none).</summary>
        private readonly int[] _leafOf;
        /// <summary>Per top-level column, the row that last set it (so the others are null at the row's end).</summary>
        private readonly long[] _setInRow;
        private readonly SchemaNode[] _columns;
        /// <summary>Values wait here when the row's partition or its quarantine line needs all of them first.</summary>
        private readonly RowRecording? _recording;
        /// <summary>The property whose value picks the partition (partition_by a column), or -1.</summary>
        private readonly int _partitionProperty;
        /// <summary>The stream's map on rows, run on each row once its values are in; null without one.</summary>
        private readonly TypedStreamMap.RowLane? _map;
        private readonly ArrayBufferWriter<byte> _valueJson = new(256);
        private readonly Utf8JsonWriter _valueWriter;
        private ColumnBatch _batch = null!;
        private LeafBuffer[] _buffers = [];
        private Partition _partition;
        private long _row;
        private bool _replaying;
        private string? _rejection;

        public TypedRows(EngineSink sink, StreamState state, JsonObject tapSchema, LinePrinter printer)
        {
            _sink = sink;
            _state = state;
            _writer = state.Writer!;
            _shredder = _writer.Shredders[0];
            _printer = printer;
            _valueWriter = new Utf8JsonWriter(_valueJson, JsonOptions);
            var root = _writer.Schema.Root;
            _columns = root.ChildArray;
            _setInRow = new long[_columns.Length];
            Array.Fill(_setInRow, -1);
            var properties = (tapSchema["properties"] as JsonObject)?.Select(p => p.Key).ToArray() ?? [];
            _columnOf = new SchemaNode?[properties.Length];
            _leafOf = new int[properties.Length];
            _childOf = new int[properties.Length];
            _partitionProperty = -1;
            var partitionKey = System.Text.Encoding.UTF8.GetString(state.PartitionKeyUtf8);
            for (var p = 0; p < properties.Length; p++)
            {
                var child = root.IndexOfKey(properties[p]);
                _columnOf[p] = child >= 0 ? _columns[child] : null;
                _childOf[p] = child;
                _leafOf[p] = child >= 0 && _columns[child] is LeafNode leaf ? leaf.ColumnIndex : -1;
                if (sink._ingest.PartitionsByColumn && properties[p] == partitionKey) _partitionProperty = p;
            }
            _partition = sink._ingest.DefaultPartition;
            _map = state.TypedMap is { OnRows: true } typed ? typed.ForRowLane(0) : null;
            // A mapped row the map hands back is printed as its RECORD line for the JSON path: its values are kept.
            if (sink._ingest.PartitionsByColumn || sink._ingest.OnInvalidRecord == Config.InvalidRecordPolicy.Quarantine || _map is not null)
                _recording = new RowRecording();
        }

        private bool Recording => _recording is not null && !_replaying;

        public override void BeginRow()
        {
            if (Recording)
            {
                _recording!.Clear();
                return;
            }
            _row++;
            _rejection = null;
            _batch = _writer.BatchFor(0, _partition);
            _buffers = _batch.Columns;
            _batch.Mark();
            _shredder.RoundedNumbers.BeginRecord();
        }

        public override void EndRow()
        {
            var line = _sink.NextLine();
            _sink._records++;
            try
            {
                if (Recording) AppendRecorded();
                FinishRow(line);
            }
            catch (Exception e)
            {
                throw _sink.Fail(e);
            }
        }

        /// <summary>The recorded row, appended to its partition's batch.</summary>
        private void AppendRecorded()
        {
            if (_partitionProperty >= 0) _partition = _recording!.PartitionOf(_partitionProperty);
            _replaying = true;
            try
            {
                BeginRow();
                _recording!.ReplayTo(this);
            }
            finally
            {
                _replaying = false;
            }
        }

        private void FinishRow(long line)
        {
            if (_map is not null)
            {
                FinishMappedRow(line);
                return;
            }
            if (_rejection is { } reason)
            {
                _batch.RollbackToMark();
                _sink._ingest.Reject(_state, reason, QuarantineLine(), line, _sink.RowOrigin?.Invoke());
                return;
            }
            for (var c = 0; c < _columns.Length; c++)
                if (_setInRow[c] != _row)
                    foreach (var leaf in _columns[c].Leaves) _buffers[leaf.ColumnIndex].AddNull(0, 0);
            _batch.Rows++;
            _state.CountRecord(0);
            _writer.RowAdded(0, _partition, _batch);
            CountRounded(line);
        }

        /// <summary>
        /// Counts, for the run log, the kept row's numbers that a DOUBLE column stored rounded (a value its typed append
        /// left to the JSON path, which notes it), on the line its RECORD would have had, as the Singer path counts a record's.
        /// </summary>
        private void CountRounded(long line)
        {
            var rounded = _shredder.RoundedNumbers;
            rounded.TakeRecord();
            if (rounded.AwaitLine) rounded.OnLine(line);
        }

        /// <summary>
        /// A row of a mapped stream: the map runs on it as it runs on a shredded RECORD; a row it filters is rolled back
        /// and counted; a row it hands back, one with a value its column rejected, and one the map fails on are printed
        /// as their RECORD line for the JSON path, which stores, rejects or reports them as a printed run would.
        /// </summary>
        private void FinishMappedRow(long line)
        {
            var outcome = MapOutcome.Fallback;
            if (_rejection is null)
            {
                for (var c = 0; c < _columns.Length; c++)
                    if (_setInRow[c] != _row)
                        foreach (var leaf in _columns[c].Leaves) _buffers[leaf.ColumnIndex].AddNull(0, 0);
                try { outcome = _map!.Apply(_batch, hashNow: _writer.EncoderBehind); }
                catch (TransformException) { outcome = MapOutcome.Fallback; }
            }
            switch (outcome)
            {
                case MapOutcome.Keep:
                    _batch.Rows++;
                    _state.CountRecord(0);
                    _writer.RowAdded(0, _partition, _batch);
                    CountRounded(line);
                    return;
                case MapOutcome.Filtered:
                    _batch.RollbackToMark();
                    Interlocked.Increment(ref _state.Filtered);
                    return;
            }
            _batch.RollbackToMark();
            _printer.Rows.BeginRow();
            _recording!.ReplayTo(_printer.Rows);
            _printer.Rows.EndRow();
            var (buffer, length) = _printer.Take();
            _sink.DispatchRecordLine(buffer, length, line);
        }

        /// <summary>The rejected row's RECORD line, printed only when it is to be quarantined.</summary>
        private ReadOnlySpan<byte> QuarantineLine()
        {
            if (_recording is null || _sink._ingest.OnInvalidRecord != Config.InvalidRecordPolicy.Quarantine) return default;
            _printer.Rows.BeginRow();
            _recording.ReplayTo(_printer.Rows);
            _printer.Rows.EndRow();
            var (buffer, length) = _printer.Take();
            return buffer.AsSpan(0, length);
        }

        public override void WriteJsonRow(ReadOnlySpan<byte> recordObject)
        {
            var line = _sink.NextLine();
            _sink._records++;
            _shredder.RoundedNumbers.File = _sink.RowFile;
            _printer.Rows.WriteJsonRow(recordObject);
            var (buffer, length) = _printer.Take();
            try { _sink.DispatchRecordLine(buffer, length, line); }
            catch (Exception e) { throw _sink.Fail(e); }
        }

        /// <summary>The top-level column a value fills, or null when the value is not to be stored (removed, or the row is rejected).</summary>
        private SchemaNode? Column(int property)
        {
            if (_rejection is not null) return null;
            var column = _columnOf[property];
            if (column is null) return null;
            var index = _childOf[property];
            if (_setInRow[index] == _row)
            {
                _rejection = new InvalidValueException(column.Name, "the property appears twice in the record").Message;
                return null;
            }
            _setInRow[index] = _row;
            return column;
        }

        /// <summary>The leaf buffer of a flat column's value, else null (and <paramref name="column"/> for the JSON route).</summary>
        private LeafBuffer? Leaf(int property, out SchemaNode? column)
        {
            column = Column(property);
            if (column is null) return null;
            var leaf = _leafOf[property];
            return leaf >= 0 ? _buffers[leaf] : null;
        }

        public override void Null(int property)
        {
            if (Recording) { _recording!.Null(property); return; }
            if (Column(property) is { } column)
                foreach (var leaf in column.Leaves) _buffers[leaf.ColumnIndex].AddNull(0, 0);
        }

        public override void Long(int property, long value)
        {
            if (Recording) { _recording!.Long(property, value); return; }
            var buffer = Leaf(property, out var column);
            if (column is null || (buffer is not null && buffer.Leaf.Type.TryAppend(buffer, value, 0))) return;
            _valueWriter.WriteNumberValue(value);
            ShredJson(column);
        }

        public override void Double(int property, double value)
        {
            if (Recording) { _recording!.Double(property, value); return; }
            var buffer = Leaf(property, out var column);
            if (column is null || (buffer is not null && buffer.Leaf.Type.TryAppend(buffer, value, 0))) return;
            if (!double.IsFinite(value))
            {
                // JSON has no such number to hand the column: only a number column takes it (above).
                _rejection ??= new InvalidValueException(column.Name,
                    $"{NamedFloatLiterals.Word(value)} fits a \"number\" column only, not this {(buffer?.Leaf.Kind.ToString().ToLowerInvariant() ?? "nested")} column").Message;
                return;
            }
            _valueWriter.WriteNumberValue(value);
            ShredJson(column);
        }

        public override void Decimal(int property, decimal value)
        {
            if (Recording) { _recording!.Decimal(property, value); return; }
            var buffer = Leaf(property, out var column);
            if (column is null || (buffer is not null && buffer.Leaf.Type.TryAppend(buffer, value, 0))) return;
            _valueWriter.WriteNumberValue(value);
            ShredJson(column);
        }

        public override void Bool(int property, bool value)
        {
            if (Recording) { _recording!.Bool(property, value); return; }
            var buffer = Leaf(property, out var column);
            if (column is null || (buffer is not null && buffer.Leaf.Type.TryAppend(buffer, value, 0))) return;
            _valueWriter.WriteBooleanValue(value);
            ShredJson(column);
        }

        public override void String(int property, ReadOnlySpan<char> value)
        {
            if (Recording) { _recording!.String(property, value); return; }
            var buffer = Leaf(property, out var column);
            if (column is null || (buffer is not null && buffer.Leaf.Type.TryAppendString(buffer, value, 0))) return;
            _valueWriter.WriteStringValue(value);
            ShredJson(column);
        }

        public override void Utf8String(int property, ReadOnlySpan<byte> value)
        {
            if (Recording) { _recording!.Utf8String(property, value); return; }
            var buffer = Leaf(property, out var column);
            if (column is null || (buffer is not null && buffer.Leaf.Type.TryAppendUtf8(buffer, value, 0))) return;
            _valueWriter.WriteStringValue(value);
            ShredJson(column);
        }

        public override void Date(int property, DateOnly value)
        {
            if (Recording) { _recording!.Date(property, value); return; }
            var buffer = Leaf(property, out var column);
            if (column is null || (buffer is not null && buffer.Leaf.Type.TryAppend(buffer, value, 0))) return;
            SingerJsonSink.WriteDate(_valueWriter, value);
            ShredJson(column);
        }

        public override void Timestamp(int property, DateTime utc)
        {
            if (Recording) { _recording!.Timestamp(property, utc); return; }
            var buffer = Leaf(property, out var column);
            if (column is null || (buffer is not null && buffer.Leaf.Type.TryAppendInstant(buffer, utc, 0))) return;
            SingerJsonSink.WriteTimestamp(_valueWriter, utc);
            ShredJson(column);
        }

        public override void Time(int property, TimeOnly value)
        {
            if (Recording) { _recording!.Time(property, value); return; }
            var buffer = Leaf(property, out var column);
            if (column is null || (buffer is not null && buffer.Leaf.Type.TryAppend(buffer, value, 0))) return;
            SingerJsonSink.WriteTime(_valueWriter, value);
            ShredJson(column);
        }

        public override void Base64(int property, ReadOnlySpan<byte> value)
        {
            if (Recording) { _recording!.Base64(property, value); return; }
            var buffer = Leaf(property, out var column);
            if (column is null || (buffer is not null && buffer.Leaf.Type.TryAppendBase64(buffer, value, 0))) return;
            _valueWriter.WriteBase64StringValue(value);
            ShredJson(column);
        }

        public override void Json(int property, ReadOnlySpan<byte> value)
        {
            if (Recording) { _recording!.Json(property, value); return; }
            if (Column(property) is not { } column) return;
            _valueWriter.WriteRawValue(value, skipInputValidation: true);
            ShredJson(column);
        }

        public override void Json(int property, ReadOnlySpan<char> value)
        {
            if (Recording) { _recording!.Json(property, value); return; }
            if (Column(property) is not { } column) return;
            _valueWriter.WriteRawValue(value, skipInputValidation: true);
            ShredJson(column);
        }

        private DirectColumns? _direct;
        private bool _directDecided;

        /// <summary>
        /// Rows stored straight into the batch's leaf buffers, when nothing needs the values one by one: no row is
        /// recorded first (partition by a column, quarantine), and each property fills its own flat top-level column,
        /// together all of them (so no column is left to fill with null and no property can appear twice).
        /// </summary>
        public override DirectRows? Direct
        {
            get
            {
                if (_directDecided) return _direct;
                _directDecided = true;
                var flat = _recording is null && _columnOf.Length == _columns.Length && _leafOf.All(leaf => leaf >= 0)
                           && _childOf.Distinct().Count() == _childOf.Length;
                return _direct = flat ? new DirectColumns(this) : null;
            }
        }

        /// <summary>A row as <see cref="BeginRow"/>..<see cref="EndRow"/> would take it, without the per-value bookkeeping a flat, complete row does not need.</summary>
        private sealed class DirectColumns(TypedRows rows) : DirectRows
        {
            private readonly LeafBuffer[] _byProperty = new LeafBuffer[rows._leafOf.Length];
            private ColumnBatch? _batch;

            public override ReadOnlySpan<LeafBuffer> BeginRow()
            {
                var batch = rows._writer.BatchFor(0, rows._partition);
                if (!ReferenceEquals(batch, _batch))
                {
                    _batch = batch;
                    for (var p = 0; p < _byProperty.Length; p++) _byProperty[p] = batch.Columns[rows._leafOf[p]];
                }
                batch.Mark();
                return _byProperty;
            }

            public override void EndRow()
            {
                rows._sink.NextLine();
                rows._sink._records++;
                try
                {
                    _batch!.Rows++;
                    rows._state.CountRecord(0);
                    rows._writer.RowAdded(0, rows._partition, _batch);
                }
                catch (Exception e)
                {
                    throw rows._sink.Fail(e);
                }
            }

            public override void AbandonRow() => _batch!.RollbackToMark();
        }

        /// <summary>The value just written to <see cref="_valueWriter"/>, shredded as the RECORD line's value would be.</summary>
        private void ShredJson(SchemaNode column)
        {
            _valueWriter.Flush();
            try
            {
                // Two levels less than a line allows: the value sits in the message and its record.
                var reader = new Utf8JsonReader(_valueJson.WrittenSpan, new JsonReaderOptions { MaxDepth = SingerMessageReader.MaxDepth - 2 });
                reader.Read();
                _shredder.ShredValue(_batch, column, ref reader);
            }
            catch (InvalidValueException e)
            {
                _rejection = e.Message;
            }
            catch (InvalidOperationException e) when (e.Source == "System.Text.Json")
            {
                _rejection = e.Message;
            }
            finally
            {
                _valueJson.ResetWrittenCount();
                _valueWriter.Reset();
            }
        }
    }
}

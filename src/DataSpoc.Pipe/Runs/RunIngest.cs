using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Singer;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Transforms;

namespace DataSpoc.Pipe.Runs;

/// <summary>
/// The per-run Singer handler: routes each message to its stream's <see cref="TableWriter"/>, applies the
/// invalid-record policy and transforms, and holds the latest STATE until the commit.
/// </summary>
internal sealed class RunIngest(PipelineDefinition pipeline, RunIngest.Settings settings) : ISingerHandler
{
    internal sealed record Settings(
        string SpoolDirectory,
        bool SpoolIsInLake,
        WriteLimits Limits,
        IReadOnlySet<string>? SelectedStreams,
        IReadOnlyList<IRecordTransform> Transforms,
        Sources.Redactor Secrets,
        BatchFiles? Batches = null,
        Func<string, Tables.IcebergFieldIds>? FieldIdsFor = null,
        Func<string, IReadOnlyList<ManifestColumn>?>? KeptColumnsFor = null,
        Func<string, string, string?>? LandedCaseTwin = null);

    private readonly Dictionary<string, StreamState> _streams = new(StringComparer.Ordinal);
    /// <summary>
    /// The streams so far, in the first <see cref="_streamCount"/> slots; the progress watchdog enumerates them while the
    /// reading thread adds streams, so a slot is filled before the count takes it in, and a full array is copied to a
    /// twice larger one (never changed after) rather than grown in place. Copying the whole list for each new stream
    /// cost a run of 50,000 tables over a billion copies.
    /// </summary>
    private StreamState[] _streamList = [];
    private int _streamCount;
    /// <summary>The run's budget of buffered rows, shared by every stream's writer.</summary>
    private readonly BufferBudget _budget = new(settings.Limits);
    /// <summary>
    /// The table folder of each stream of this run, by table name ignoring case: two tables whose names differ only in
    /// case are one table to Glue, Hive and Trino catalogs and one folder on a case-insensitive file system (a macOS or
    /// Windows file:// bucket), as columns differing only in case are one column to Parquet readers.
    /// </summary>
    private readonly Dictionary<string, (string Table, string Stream)> _tables = new(LookAlikeNames.Comparer);
    private readonly Dictionary<string, Tables.IcebergFieldIds> _fieldIds = new(StringComparer.Ordinal);

    /// <summary>The column ids a table's files were written with (tables with Iceberg or Delta metadata), else null.</summary>
    public Tables.IcebergFieldIds? FieldIdsOf(string table) => _fieldIds.GetValueOrDefault(table);
    private readonly Lock _rejectLock = new();
    private Lane[]? _lanes;

    /// <summary>One handler per parsing lane: RECORDs go through them, in parallel; everything else through this object.</summary>
    public IReadOnlyList<ISingerHandler> Lanes => _lanes ??= Enumerable.Range(0, settings.Limits.ParseLanes).Select(i => new Lane(this, i)).ToArray();
    private readonly string _partitionColumn = PartitionColumnOf(pipeline);

    /// <summary>Records of the stream in the canonical shape take the fast scan: no record transform.</summary>
    private static bool ScansCanonically(StreamState state) => state.RecordTransforms.Count == 0;

    private static string PartitionColumnOf(PipelineDefinition pipeline) =>
        pipeline.Destination.PartitionBy is PartitionBySettings.ExtractionDate or PartitionBySettings.None ? "" : pipeline.Destination.PartitionBy;
    private Partition _defaultPartition;
    private int _fileStems;

    public IReadOnlyCollection<StreamState> Streams
    {
        get
        {
            var count = Volatile.Read(ref _streamCount); // first: the array read after it holds at least that many
            return new ArraySegment<StreamState>(Volatile.Read(ref _streamList), 0, count);
        }
    }
    public SingerState? LastState { get; private set; }
    /// <summary>Messages of a type the protocol does not know, by type (a tap names them: capped).</summary>
    public CappedCounts UnknownMessages { get; } = new();
    /// <summary>Later SCHEMA messages that changed the type of a column the stream's earlier files have, for the run log.</summary>
    public List<string> SchemaTypeChanges { get; } = [];
    /// <summary>SCHEMA references that could not be followed (their properties land as JSON text), for the run log.</summary>
    public List<string> SchemaNotices { get; } = [];
    /// <summary>What an in-process source noted for the run log (<see cref="Sources.RecordSink.WriteNotice"/>).</summary>
    public List<string> SourceNotices { get; } = [];
    /// <summary>Files an in-process source counted as read without reading them (<see cref="Sources.RecordSink.NoteFileSkippedAsRead"/>).</summary>
    public int FilesSkippedAsRead;

    /// <summary>Whether the run's tables keep the latest row per key (<c>write_mode: merge</c>).</summary>
    public bool MergesByKey => pipeline.Destination.WriteMode == WriteMode.Merge;
    public long DroppedUnselectedRecords => Streams.Where(s => !s.Selected).Sum(s => Interlocked.Read(ref s.Ignored));

    /// <summary>The run's budget of buffered rows (tests read how much it holds).</summary>
    internal BufferBudget Budget => _budget;

    private void AddStream(StreamState state)
    {
        _streams[state.Name] = state;
        if (_streamCount == _streamList.Length)
        {
            var larger = new StreamState[Math.Max(_streamList.Length * 2, 16)];
            Array.Copy(_streamList, larger, _streamCount);
            Volatile.Write(ref _streamList, larger);
        }
        _streamList[_streamCount] = state;
        Volatile.Write(ref _streamCount, _streamCount + 1);
    }

    /// <summary>The stream a SCHEMA declared (the typed sink's way in: <see cref="EngineSink"/>).</summary>
    internal StreamState StreamNamed(string stream) => _streams[stream];

    /// <summary>Rows are written to partitions by a column's date (<c>partition_by: column</c>).</summary>
    internal bool PartitionsByColumn => _partitionColumn.Length > 0;

    /// <summary>The partition of rows when no column decides it (the extraction date, or none).</summary>
    internal Partition DefaultPartition => _defaultPartition;

    internal InvalidRecordPolicy OnInvalidRecord => pipeline.OnInvalidRecord;

    public void Start(DateOnly extractionDate) =>
        _defaultPartition = pipeline.Destination.PartitionBy == PartitionBySettings.None ? Partition.Unpartitioned : new Partition(extractionDate);

    public void OnSchema(string stream, JsonElement schema, IReadOnlyList<string> keyProperties, long line)
    {
        if (settings.SelectedStreams is { } selected && !selected.Contains(stream))
        {
            if (!_streams.ContainsKey(stream)) AddStream(new StreamState(stream, "", settings.Limits.ParseLanes) { Selected = false });
            return;
        }
        string table;
        try { table = LakePaths.TableName(stream); }
        catch (ArgumentException e) { throw SchemaError(line, e.Message, stream); }
        // The stream's name becomes its table folder, its files' names, its manifest entry and its Iceberg/Delta metadata:
        // none of those is masked, so a name holding a secret (a tap naming a stream after its password) is refused
        // before anything of the stream is written, and named only masked.
        if ((settings.Secrets.MaskedName(stream) ?? settings.Secrets.MaskedName(table)) is { } masked)
        {
            throw SchemaError(line, "the stream name contains " +
                PipelineSecrets.SecretIn(settings.Secrets, settings.Secrets.MaskedName(stream) is null ? table : stream) +
                "; refused, so that the secret is not written to the bucket in clear in its table folder, " +
                "file names, manifest and table metadata: rename the stream in the tap, or change the secret", masked);
        }
        if (_tables.TryGetValue(table, out var other) && other.Stream != stream)
            throw SchemaError(line, other.Table == table
                ? $"streams '{other.Stream}' and '{stream}' both map to table folder '{table}'"
                : $"streams '{other.Stream}' and '{stream}' map to table folders '{other.Table}' and '{table}', which differ only {LookAlikeNames.HowTheyDiffer(other.Table, table)}; " +
                  "catalogs such as Glue, Hive and Trino and case-insensitive file systems would treat them as one table: select only one of them " +
                  "in source.streams (or rename one in the tap)", stream);
        // The same for a table an earlier run (of this pipeline or another) landed in the bucket: TableOwnership.LandedCaseTwins.
        if (!_tables.ContainsKey(table) && settings.LandedCaseTwin?.Invoke(stream, table) is { } twin)
            throw SchemaError(line, twin, stream);
        _tables[table] = (table, stream);

        // Transforms and the column mapping read one schema: references followed, allOf and same-type alternatives merged.
        var unresolved = new List<string>();
        schema = JsonSchemaResolver.Resolve(schema, unresolved);
        foreach (var notice in unresolved.Select(n => $"stream '{stream}': {n}"))
            if (!SchemaNotices.Contains(notice)) SchemaNotices.Add(notice);
        var transforms = settings.Transforms.Where(t => t.AppliesTo(stream)).ToList();
        var tapSchema = schema;
        foreach (var t in transforms)
        {
            schema = JsonElement.Parse(t.TransformSchema(stream, JsonNode.Parse(schema.GetRawText())!.AsObject()).ToJsonString());
            keyProperties = t.TransformKeyProperties(stream, keyProperties);
        }
        var computedOutputs = transforms.OfType<StreamMap>().SelectMany(m => m.ComputedOutputs).ToHashSet(StringComparer.Ordinal);
        // Maps' hash columns and those code transforms declare, as far as the landed schema holds them.
        var hashedOutputs = transforms.SelectMany(t => t.HashedColumns(stream))
            .Where(c => schema.TryGetProperty("properties", out var landed) && landed.ValueKind == JsonValueKind.Object && landed.TryGetProperty(c, out _)).ToList();
        // A map that only selects, drops or renames is applied to the schema: the shredders read records through it.
        RecordProjection? projection = null;
        if (transforms is [StreamMap { OnlyProjects: true } map])
        {
            projection = map.ProjectionOf(tapSchema);
            transforms = [];
        }
        ColumnSchema columns;
        ColumnSchema? tapColumns = null;
        TypedStreamMap? typedMap = null;
        Dictionary<string, int>? heldAsDouble = null;
        try
        {
            Decide();
            // A table written when decimals of more than 18 places, and computed decimals, landed as DOUBLE keeps such a
            // column DOUBLE until a full refresh.
            if (settings.KeptColumnsFor?.Invoke(table) is { Count: > 0 } kept
                && DecimalsHeldAsDouble.Schema(schema, columns, kept, computedOutputs) is { } asDouble)
            {
                var decided = columns;
                schema = asDouble;
                Decide();
                heldAsDouble = DecimalsHeldAsDouble.Leaves(decided, columns);
            }
        }
        catch (SchemaException e) { throw SchemaError(line, "invalid SCHEMA: " + e.Message, stream); }
        var partitionKey = Array.Empty<byte>();
        var partitionLeaf = -1;
        if (_partitionColumn.Length > 0)
        {
            var index = columns.Root.IndexOf(_partitionColumn);
            if (index < 0 || columns.Root.Children[index] is not LeafNode { Kind: LeafKind.Date or LeafKind.Timestamp } leaf)
                throw SchemaError(line, $"partition_by column '{_partitionColumn}' is not a date or date-time property of this stream", stream);
            partitionKey = leaf.NameUtf8;
            partitionLeaf = leaf.ColumnIndex;
        }

        if (settings.FieldIdsFor is { } fieldIdsFor)
        {
            if (!_fieldIds.TryGetValue(table, out var ids)) _fieldIds[table] = ids = fieldIdsFor(table);
            ids.Assign(columns);
        }

        if (!_streams.TryGetValue(stream, out var state))
            AddStream(state = new StreamState(stream, table, settings.Limits.ParseLanes));
        foreach (var (path, scale) in heldAsDouble ?? []) state.DecimalsHeldAsDouble[path] = scale;
        state.HashedColumns.UnionWith(hashedOutputs);
        // A merge reduces all the run's records of the stream by one key, the last SCHEMA's: records sent under another key
        // would be merged by a key they were not sent under (rows the tap told apart replaced by each other, without a word).
        if (MergesByKey && state.KeyProperties is { } runKey && state.Writer is not null && !runKey.SequenceEqual(keyProperties, StringComparer.Ordinal))
            throw SchemaError(line, $"key_properties changed within the run from [{string.Join(", ", runKey)}] to [{string.Join(", ", keyProperties)}]: " +
                "write_mode merge reduces all of a run's records of a stream by one key; send one key_properties in every SCHEMA of the stream", stream);
        state.KeyProperties = keyProperties;
        state.RecordTransforms = transforms;
        state.TypedMap = typedMap;
        state.TapColumns = tapColumns;
        state.PartitionKeyUtf8 = partitionKey;
        state.PartitionKeyQuoted = partitionKey.Length == 0 ? [] : [(byte)'"', .. partitionKey, (byte)'"'];
        state.PartitionLeaf = partitionLeaf;
        if (state.Writer is { } current && current.Schema.SchemaJson == columns.SchemaJson && current.Schema.RecordLayout == columns.RecordLayout)
        {
            // The same columns and the stream's one map: the same hash columns and salt, so a hook already there serves.
            current.BeforeEncode ??= typedMap?.DeferredHashes;
            return;
        }
        // A new schema: what was buffered under the old one is written first, to files of its own, unless the new one
        // only adds nullable columns and no row group was written yet: then those rows move to the new writer, null in
        // the new columns (TableWriter.TryMoveRowsTo), and the old writer is completed empty.
        if (state.Writer is { } previous && Lake.ManifestColumn.TypeChanges(previous.Schema.ManifestColumns(), columns.ManifestColumns()) is { Count: > 0 } changed)
            SchemaTypeChanges.Add($"stream '{stream}': the SCHEMA {(RecordNumbers is null ? $"at line {line}" : "sent again")} changes column(s) {string.Join(", ", changed)}; the files written before it keep the old type(s)");
        // A merge keeps a key's last record: which of its records in different partitions came last, the files cannot tell.
        if (MergesByKey && _partitionColumn.Length > 0)
            state.Arrivals ??= new PartitionArrivals(Lake.LakePaths.ScratchFile($"arrivals-{table}", ".bin", settings.SpoolDirectory));
        var next = new TableWriter(columns, pipeline.Destination.Compression, settings.Limits, settings.SpoolDirectory,
            $"{table}-{_fileStems++:D4}", settings.SpoolIsInLake, _budget) { BeforeEncode = typedMap?.DeferredHashes, Arrivals = state.Arrivals };
        if (transforms.Count == 0) state.Writer?.TryMoveRowsTo(next);
        state.CompleteWriterAsync().GetAwaiter().GetResult();
        state.Writer = next;
        foreach (var lane in Lanes) ((Lane)lane).Forget(state);

        void Decide()
        {
            // A map that filters, computes, hashes or casts runs on typed values when it can: the shredders read records
            // through its projection and it fills in the columns it produces.
            if (transforms is [StreamMap typedSource]) typedMap = TypedStreamMap.TryCompile(typedSource, tapSchema, schema, _partitionColumn, settings.Limits.ParseLanes);
            columns = typedMap?.Columns ?? ColumnSchema.FromJsonSchema(schema, projection);
            // The stream's map (code transforms run before it): what it keeps, as the tap's records spell it.
            if (transforms.OfType<StreamMap>().SingleOrDefault() is { } tapMap) tapColumns = ColumnSchema.FromJsonSchema(schema, TypedStreamMap.TapProjection(tapMap, tapSchema));
        }
    }

    /// <summary>
    /// A BATCH message: its files' records go through the first lane exactly as RECORD lines would (the fast scan when
    /// the record is in the stream's canonical shape), between the messages before and after it. An error names the file
    /// and its line; a stream that is not selected has its files left unread.
    /// </summary>
    public void OnBatch(string stream, SingerBatch batch, long line)
    {
        if (!_streams.TryGetValue(stream, out var state))
            throw new SingerProtocolException(line, "BATCH before any SCHEMA for its stream", stream);
        if (!state.Selected) return;
        if (settings.Batches is null) throw new SingerProtocolException(line, "BATCH messages are not supported by this source", stream);
        var lane = (Lane)Lanes[0];
        var file = "";
        var number = 0L;
        // A record's line is one of the file's, not of the tap's output: a rejected or failing record is named by both.
        DispatchedRowOrigin = () => $"BATCH file {file} line {number} (the BATCH message on line {line})";
        try
        {
            settings.Batches.ReadAsync(batch, f => file = f, (record, n) => lane.OnBareRecord(state, record, number = n), CancellationToken.None)
                .GetAwaiter().GetResult();
        }
        catch (InvalidRecordException)
        {
            throw; // its message names the file and both lines already
        }
        catch (Exception e) when (e is SingerProtocolException or JsonException or Sources.BuiltIn.TapException or IOException or StorageException)
        {
            var where = file.Length > 0 ? $"BATCH file {file}" : "BATCH";
            throw new SingerProtocolException(line, $"{where}: {e.Message}", stream);
        }
        finally
        {
            DispatchedRowOrigin = null;
        }
    }

    /// <summary>RECORDs reach the lanes; only one in an unusual spelling (e.g. "stream" before "type") comes here.</summary>
    public void OnRecord(ReadOnlySpan<byte> streamUtf8, ref Utf8JsonReader record, ReadOnlySpan<byte> rawLine, long line) =>
        Lanes[0].OnRecord(streamUtf8, ref record, rawLine, line);

    /// <summary>A parsing lane: its own shredders and batches (through the table writers), its own stream cache.</summary>
    private sealed class Lane(RunIngest ingest, int index) : ISingerHandler
    {
        private StreamState? _last;
        private readonly System.Buffers.ArrayBufferWriter<byte> _transformed = new(1024);

        public void Forget(StreamState state)
        {
            if (ReferenceEquals(_last, state)) _last = null;
        }

        public void OnSchema(string stream, JsonElement schema, IReadOnlyList<string> keyProperties, long line) => ingest.OnSchema(stream, schema, keyProperties, line);
        public void OnState(SingerState state, long line) => ingest.OnState(state, line);
        public void OnActivateVersion(string stream, long version, long line) => ingest.OnActivateVersion(stream, version, line);
        public void OnUnknown(string type, long line) => ingest.OnUnknown(type, line);

        /// <summary>
        /// A chunk of RECORD lines in one loop, the fast path for the usual case (a selected stream, no record transforms):
        /// records in the canonical shape are scanned straight into their stream's batch (their partition's, when a
        /// column decides it), with the stream, the batch and the record count kept across records of the same stream.
        /// Anything the scan cannot take is rolled back and goes through the message reader to <see cref="OnRecord"/>,
        /// which reports what is wrong.
        /// </summary>
        public void OnRecordLines(in RecordLines lines, SingerMessageReader reader)
        {
            StreamState? state = null;
            TableWriter? writer = null;
            RecordShredder? shredder = null;
            ColumnBatch? batch = null;
            long counted = 0;
            // The envelope of the last record taken, as its tap wrote it, up to the record object (compact or spaced:
            // `{"type": "RECORD", "stream": "orders", "record": `); it decides on its own that a line is a RECORD of that stream.
            ReadOnlySpan<byte> envelope = default;
            // The stream taken before the current one, with its envelope and batch: two streams interleaved record by
            // record switch back and forth with one more comparison instead of an envelope scan and a stream lookup.
            var previous = new Taken(null, null, null, null, 0);
            ReadOnlySpan<byte> previousEnvelope = default;
            for (var i = 0; i < lines.Count; i++)
            {
                var line = lines[i];
                var recordStart = -1;
                // Another record of the stream before it, its envelope written the same way: one comparison.
                if (state is not null && envelope.Length > 0 && line.StartsWith(envelope))
                    recordStart = envelope.Length;
                else if (previous.State is not null && previousEnvelope.Length > 0 && line.StartsWith(previousEnvelope))
                {
                    recordStart = previousEnvelope.Length;
                    (previous, state, writer, shredder, batch, counted) = (new Taken(state, writer, shredder, batch, counted),
                        previous.State, previous.Writer, previous.Shredder, previous.Batch, previous.Counted);
                    var swapped = envelope;
                    envelope = previousEnvelope;
                    previousEnvelope = swapped;
                }
                else if (SingerEnvelope.TryCanonical(line, out var stream, out var start))
                {
                    recordStart = start;
                    if (state is null || !stream.SequenceEqual(state.NameUtf8))
                    {
                        previous.State?.CountRecords(index, previous.Counted);
                        previous = new Taken(state, writer, shredder, batch, counted);
                        previousEnvelope = envelope;
                        counted = 0;
                        batch = null;
                        state = Resolve(stream);
                        if (state is not { Selected: true } || (state.RecordTransforms.Count > 0 && state.TypedMap is null)) state = null;
                        else
                        {
                            writer = state.Writer!;
                            shredder = writer.Shredders[index];
                        }
                    }
                    envelope = line[..start];
                }
                if (recordStart >= 0 && state?.TypedMap is { } typed)
                {
                    // A mapped stream: its typed map reads the record where the envelope left it (and counts it).
                    batch = null;
                    previous = previous with { Batch = null };
                    if ((typed.OnRows && TryWriteCanonicalRow(typed.ForRowLane(index), state, writer!, line, recordStart))
                        || TryWriteTypedLine(typed, state, writer!, line, recordStart))
                    {
                        OnLine(shredder!, lines.LineNumber(i));
                        continue;
                    }
                }
                else if (recordStart >= 0 && state is { PartitionLeaf: >= 0 } && writer!.StagingFor(index, state.PartitionLeaf) is { } staging)
                {
                    if (TryStageCanonical(writer, shredder!, staging, line, recordStart))
                    {
                        OnLine(shredder!, lines.LineNumber(i));
                        counted++;
                        continue;
                    }
                }
                else if (recordStart >= 0 && state is not null && TryWriteCanonical(state, writer!, shredder!, line, recordStart, bare: false, ref batch))
                {
                    OnLine(shredder!, lines.LineNumber(i));
                    counted++;
                    // The batch was handed over, and the budget may have handed over others: ask again.
                    if (batch is null) previous = previous with { Batch = null };
                    continue;
                }
                // The message reader's path may write to any batch and does its own counting; rows staged before it
                // go first, so each partition keeps the input's order.
                batch = null;
                previous = previous with { Batch = null };
                MoveStagedRows();
                reader.DispatchLine(line, lines.LineNumber(i), lines.Unterminated(i));
            }
            MoveStagedRows();
            state?.CountRecords(index, counted);
            previous.State?.CountRecords(index, previous.Counted);
        }

        /// <summary>
        /// Scans a canonical record of a stream partitioned by a column into the lane's staging of it
        /// (<see cref="PartitionStaging"/>); false, with nothing written, when the record needs the general path.
        /// </summary>
        private bool TryStageCanonical(TableWriter writer, RecordShredder shredder, PartitionStaging staging, ReadOnlySpan<byte> line, int recordStart)
        {
            var batch = staging.Batch;
            if (batch.Rows == 0) _staged.Add((writer, staging));
            batch.Mark();
            var end = recordStart;
            if (shredder.TryShredCanonical(batch, line, ref end)
                && ((end == line.Length - 1 && line[end] == '}') || SingerEnvelope.IsCompleteAfterRecord(line, end)))
            {
                staging.RowScanned();
                return true;
            }
            batch.RollbackToMark();
            return false;
        }

        /// <summary>The stagings that took rows of this lane's current chunk (<see cref="MoveStagedRows"/> moves them).</summary>
        private readonly List<(TableWriter Writer, PartitionStaging Staging)> _staged = [];

        /// <summary>Moves the rows staged so far to their partitions' batches: at the end of a chunk, and before the general path writes a row.</summary>
        private void MoveStagedRows()
        {
            foreach (var (writer, staging) in _staged) staging.MoveToPartitions(writer, index);
            _staged.Clear();
        }

        /// <summary>What the record loop keeps of a stream it took records of: its writer, shredder and batch, and the records not counted yet.</summary>
        private readonly record struct Taken(StreamState? State, TableWriter? Writer, RecordShredder? Shredder, ColumnBatch? Batch, long Counted);

        /// <summary>A record object of a BATCH file (no envelope): the fast scan when it takes it, else the general path.</summary>
        public void OnBareRecord(StreamState state, ReadOnlySpan<byte> record, long number)
        {
            var writer = state.Writer!;
            if (ScansCanonically(state))
            {
                var start = 0;
                while (start < record.Length && record[start] is (byte)' ' or (byte)'\t') start++;
                ColumnBatch? batch = null;
                if (TryWriteCanonical(state, writer, writer.Shredders[index], record, start, bare: true, ref batch))
                {
                    state.CountRecord(index);
                    OnLine(writer.Shredders[index], 0);
                    return;
                }
            }
            var reader = new Utf8JsonReader(record, new JsonReaderOptions { MaxDepth = SingerMessageReader.MaxDepth });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw new SingerProtocolException(number, "a BATCH record is not a JSON object", state.Name);
            if (state.RecordTransforms.Count > 0) OnTransformedRecord(state, writer, ref reader, record, number);
            else Write(state, writer, ref reader, record, number);
            // A line of a BATCH file, not of the tap's output: the notice names no line.
            OnLine(writer.Shredders[index], 0);
        }

        /// <summary>
        /// Gives the record just handled its line when a rounded-number notice waits for it (<see cref="RoundedNumbers.AwaitLine"/>:
        /// one field read per record otherwise).
        /// </summary>
        private static void OnLine(RecordShredder shredder, long line)
        {
            if (shredder.RoundedNumbers.AwaitLine) shredder.RoundedNumbers.OnLine(line);
        }

        /// <summary>
        /// Shreds a record in the canonical shape (its '{' at <paramref name="recordStart"/>: in a RECORD line, or
        /// <paramref name="bare"/> in a BATCH file) into its partition's batch and hands the row to the writer; false,
        /// with nothing written, when the record needs the general path. <paramref name="batch"/> keeps the batch of
        /// unpartitioned rows across calls (null: ask the writer).
        /// </summary>
        private bool TryWriteCanonical(StreamState state, TableWriter writer, RecordShredder shredder, ReadOnlySpan<byte> line, int recordStart, bool bare,
            ref ColumnBatch? batch)
        {
            var partition = ingest._defaultPartition;
            if (state.PartitionLeaf >= 0)
            {
                // The partition decides the batch, so it is found before the scan, by a quick look at the text.
                if (!TryLocatePartition(line[recordStart..], state.PartitionKeyQuoted, out partition)) return false;
                batch = writer.BatchFor(index, partition);
            }
            else batch ??= writer.BatchFor(index, partition);
            batch.Mark();
            var end = recordStart;
            if (shredder.TryShredCanonical(batch, line, ref end)
                && (bare ? line[end..].Trim(" \t\r"u8).IsEmpty : (end == line.Length - 1 && line[end] == '}') || SingerEnvelope.IsCompleteAfterRecord(line, end))
                && (state.PartitionLeaf < 0 || InPartition(batch, state.PartitionLeaf, partition)))
            {
                if (writer.RowAdded(index, partition, batch)) batch = null;
                return true;
            }
            batch.RollbackToMark();
            return false;
        }

        /// <summary>
        /// Whether the row just scanned holds <paramref name="partition"/>'s date in its partition column: the quick look
        /// before the scan may have found a nested property of the same name, and then the general path decides.
        /// </summary>
        private static bool InPartition(ColumnBatch batch, int leaf, Partition partition)
        {
            var column = batch.Columns[leaf];
            if (column.Def[column.Levels - 1] != column.Leaf.DefLevel) return partition.Date is null;
            var date = column.Leaf.Kind == LeafKind.Date
                ? DateOnly.FromDayNumber(EpochDayNumber + column.Ints[column.Values - 1])
                : TemporalParser.DateFromMicros(column.Longs[column.Values - 1]);
            return partition.Date == date;
        }

        /// <summary>The stream a RECORD names (the last one, usually); null before its SCHEMA.</summary>
        private StreamState? Resolve(ReadOnlySpan<byte> streamUtf8)
        {
            var state = _last;
            if (state is not null && streamUtf8.SequenceEqual(state.NameUtf8)) return state;
            // Streams interleaved record by record change stream at every record: looked up without a string.
            Span<char> name = stackalloc char[256];
            if (streamUtf8.Length <= name.Length && Encoding.UTF8.TryGetChars(streamUtf8, name, out var length))
            {
                if (!ingest._streams.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(name[..length], out state)) return null;
            }
            else if (!ingest._streams.TryGetValue(Encoding.UTF8.GetString(streamUtf8), out state)) return null;
            return _last = state;
        }

        public void OnRecord(ReadOnlySpan<byte> streamUtf8, ref Utf8JsonReader record, ReadOnlySpan<byte> rawLine, long line)
        {
            var state = Resolve(streamUtf8)
                ?? throw new SingerProtocolException(line, "RECORD before any SCHEMA for its stream", Encoding.UTF8.GetString(streamUtf8));
            if (!state.Selected)
            {
                Interlocked.Increment(ref state.Ignored);
                return;
            }
            var writer = state.Writer!;
            if (state.RecordTransforms.Count > 0) OnTransformedRecord(state, writer, ref record, rawLine, line);
            else Write(state, writer, ref record, rawLine, line);
            OnLine(writer.Shredders[index], line);
        }

        /// <summary>
        /// Shreds a record into its batch, or rejects it (false): a rejected record counts as rejected, whole, and none of
        /// its undeclared properties as dropped (the shred met only those before the bad value, in the order the tap wrote them).
        /// </summary>
        private bool Write(StreamState state, TableWriter writer, ref Utf8JsonReader record, ReadOnlySpan<byte> rawLine, long line)
        {
            var partition = ingest._partitionColumn.Length > 0 ? PartitionOf(record, state.PartitionKeyUtf8) : ingest._defaultPartition;
            var batch = writer.BatchFor(index, partition);
            var shredder = writer.Shredders[index];
            batch.Mark();
            try
            {
                shredder.Shred(batch, ref record);
            }
            catch (Exception e) when (e is InvalidValueException || (e is InvalidOperationException && e.Source == "System.Text.Json"))
            {
                batch.RollbackToMark();
                shredder.UncountRecordDrops();
                ingest.Reject(state, e.Message, rawLine, line);
                return false;
            }
            catch (JsonException)
            {
                // Not JSON: the line fails, or is read again (Python's NaN quoted), without this partial row.
                batch.RollbackToMark();
                throw;
            }
            state.CountRecord(index);
            writer.RowAdded(index, partition, batch);
            return true;
        }

        private void OnTransformedRecord(StreamState state, TableWriter writer, ref Utf8JsonReader record, ReadOnlySpan<byte> rawLine, long line)
        {
            if (state.TypedMap is { } typed)
            {
                var start = record;
                try
                {
                    if (typed.OnRows ? TryWriteRow(typed.ForRowLane(index), state, writer, ref record, rawLine)
                        : TryWriteTyped(typed.ForLane(index), state, writer, ref record, rawLine)) return;
                }
                catch (TransformException e) when (e.OfRecord)
                {
                    // An expression failed on the typed values (nothing of the row is left): the JSON path below decides,
                    // which rejects the record or, reading a number in the form the tap wrote it (53.0), evaluates it.
                }
                record = start;
            }
            if (NamedFloatLiterals.Current is { } quoted && quoted.Line.Overlaps(rawLine))
            {
                // The record's JSON form (what the transforms below work on) cannot hold them: a named error, not NCalc's.
                ingest.Reject(state, $"the record holds NaN or an infinity, which transforms.{state.Name} cannot evaluate here (they work on the " +
                    "record's JSON form, which has no such number; a map the typed path takes, such as a filter, drop or compute over other columns, does)", rawLine, line);
                return;
            }
            foreach (var t in state.RecordTransforms)
                if (t is StreamMap map && map.DefectOf(record) is { } defect)
                {
                    ingest.Reject(state, defect.Message, rawLine, line);
                    return;
                }
            var shredder = writer.Shredders[index];
            CappedCounts.Saved? beforeTapDrops = null;
            if (state.TapColumns is { } tapColumns)
            {
                beforeTapDrops = shredder.DroppedProperties.Save(_tapDropsListedBefore);
                var counted = record;
                shredder.CountUndeclared(tapColumns.Root, ref counted);
            }
            var node = JsonNode.Parse(ref record)!.AsObject();
            for (var i = 0; i < state.RecordTransforms.Count; i++)
            {
                var t = state.RecordTransforms[i];
                JsonObject? result;
                try
                {
                    result = t.TransformRecord(state.Name, node);
                }
                catch (TransformException e) when (e.OfRecord)
                {
                    UncountTapDrops(shredder, beforeTapDrops);
                    ingest.Reject(state, e.Message, rawLine, line);
                    return;
                }
                catch (Exception e) when (e is not (TransformException or OutOfMemoryException))
                {
                    // The caller's code failed, not the record: the run stops, saying which transform and on what.
                    // Named as the user knows it: a code transform by its name or its place among the stream's code transforms
                    // (they run first), a declarative one by its key. Not by its index in this list, which holds what the
                    // typed path did not take and so differs between the paths.
                    var which = t switch
                    {
                        Api.CodeTransform { Name: { } name } => $"transform '{name}'",
                        Api.CodeTransform => $"transform #{state.RecordTransforms.Take(i + 1).Count(x => x is Api.CodeTransform)} (CodeTransform)",
                        _ => $"transforms.{state.Name}",
                    };
                    throw new TransformFailedException(which, state.Name, ingest.RecordPlace(line) ?? $"line {line}", e);
                }
                if (result is null)
                {
                    // A value its column does not take makes the record invalid, whether or not the filter keeps it.
                    if (t is StreamMap filtered && LandingDefect(state, writer, filtered.FilteredOutLandingValues()) is { } invalid)
                    {
                        UncountTapDrops(shredder, beforeTapDrops);
                        ingest.Reject(state, invalid, rawLine, line);
                    }
                    else Interlocked.Increment(ref state.Filtered);
                    return;
                }
                node = result;
            }
            if (state.TypedMap is { } respelling) node = respelling.Respell(node);
            _transformed.ResetWrittenCount();
            using (var w = new Utf8JsonWriter(_transformed)) node.WriteTo(w);
            var reader = new Utf8JsonReader(_transformed.WrittenSpan, new JsonReaderOptions { MaxDepth = SingerMessageReader.MaxDepth });
            reader.Read();
            shredder.CountsUndeclared = state.TapColumns is null;
            try
            {
                if (!Write(state, writer, ref reader, rawLine, line)) UncountTapDrops(shredder, beforeTapDrops);
            }
            finally
            {
                shredder.CountsUndeclared = true;
            }
        }

        /// <summary>
        /// What the stream's columns reject in <paramref name="values"/> (a record under output names, as the map leaves
        /// it), or null: shredded into the batch and rolled back, nothing written or counted.
        /// </summary>
        private string? LandingDefect(StreamState state, TableWriter writer, JsonObject values)
        {
            if (state.TypedMap is { } respelling) values = respelling.Respell(values);
            _transformed.ResetWrittenCount();
            using (var w = new Utf8JsonWriter(_transformed)) values.WriteTo(w);
            var reader = new Utf8JsonReader(_transformed.WrittenSpan, new JsonReaderOptions { MaxDepth = SingerMessageReader.MaxDepth });
            reader.Read();
            var (_, batch, shredder) = StartUndoableRow(reader, state, writer);
            try
            {
                shredder.Shred(batch, ref reader);
                return null;
            }
            catch (InvalidValueException e) { return e.Message; }
            catch (InvalidOperationException e) when (e.Source == "System.Text.Json") { return e.Message; }
            finally { UndoRow(batch, shredder); }
        }

        /// <summary>
        /// A canonical RECORD line of a mapped stream through its typed map, its record at <paramref name="recordStart"/>.
        /// False when the message reader must take the line (nothing of it is then written or counted): the record falls
        /// back, the line is not complete JSON after it, or the map fails on it (the message reader's path reports that).
        /// </summary>
        private bool TryWriteTypedLine(TypedStreamMap map, StreamState state, TableWriter writer, ReadOnlySpan<byte> line, int recordStart)
        {
            var record = new Utf8JsonReader(line[recordStart..], new JsonReaderOptions { MaxDepth = SingerMessageReader.MaxDepth });
            try
            {
                return record.Read() && record.TokenType == JsonTokenType.StartObject
                    && (map.OnRows ? TryWriteRow(map.ForRowLane(index), state, writer, ref record, line, recordStart)
                        : TryWriteTyped(map.ForLane(index), state, writer, ref record, line, recordStart));
            }
            catch (Exception e) when (e is TransformException or JsonException) { return false; }
        }

        /// <summary>
        /// The usual case of <see cref="TryWriteRow"/>, without a JSON reader: a canonical RECORD line of an unpartitioned
        /// mapped stream that the canonical scan takes whole. False, with nothing written or counted, for anything else
        /// (a record the scan does not take, a value it rejects, a map that fails or falls back): the caller then gives
        /// the line to <see cref="TryWriteTypedLine"/>, which handles every case.
        /// </summary>
        private bool TryWriteCanonicalRow(TypedStreamMap.RowLane map, StreamState state, TableWriter writer, ReadOnlySpan<byte> line, int recordStart)
        {
            if (ingest._partitionColumn.Length > 0) return false;
            var partition = ingest._defaultPartition;
            var batch = writer.BatchFor(index, partition);
            var shredder = writer.Shredders[index];
            // The dropped-property counts are saved: a row rolled back must not count its drops.
            _droppedBefore = shredder.DroppedProperties.Save(_droppedListedBefore);
            batch.Mark();
            MapOutcome outcome;
            try
            {
                var end = recordStart;
                outcome = shredder.TryShredCanonical(batch, line, ref end)
                    && ((end == line.Length - 1 && line[end] == '}') || SingerEnvelope.IsCompleteAfterRecord(line, end))
                    ? map.Apply(batch, hashNow: writer.EncoderBehind)
                    : MapOutcome.Fallback;
            }
            catch (Exception e) when (e is InvalidValueException or TransformException || (e is InvalidOperationException && e.Source == "System.Text.Json"))
            {
                outcome = MapOutcome.Fallback;
            }
            return FinishMappedRow(outcome, state, writer, partition, batch, shredder);
        }

        /// <summary>
        /// A record through its stream's row-level map (<see cref="TypedStreamMap.OnRows"/>): shredded first (the canonical
        /// scan when it takes the record), then mapped on the row. False when the record must take the JSON path; nothing
        /// of it is then written or counted. <paramref name="recordStart"/> as for <see cref="TryWriteTyped"/>.
        /// </summary>
        private bool TryWriteRow(TypedStreamMap.RowLane map, StreamState state, TableWriter writer, ref Utf8JsonReader record, ReadOnlySpan<byte> rawLine, int recordStart = -1)
        {
            var start = record;
            var (partition, batch, shredder) = StartUndoableRow(start, state, writer);
            MapOutcome outcome;
            try
            {
                rawLine.Overlaps(start.ValueSpan, out var end);
                if (!shredder.TryShredCanonical(batch, rawLine, ref end))
                {
                    batch.RollbackToMark();
                    shredder.Shred(batch, ref record);
                    end = recordStart + (int)record.BytesConsumed;
                }
                if (recordStart >= 0 && !((end == rawLine.Length - 1 && rawLine[end] == '}') || SingerEnvelope.IsCompleteAfterRecord(rawLine, end)))
                    outcome = MapOutcome.Fallback;
                else outcome = map.Apply(batch, hashNow: writer.EncoderBehind);
            }
            catch (Exception e) when (e is InvalidValueException || (e is InvalidOperationException && e.Source == "System.Text.Json"))
            {
                // The JSON path shreds the record again and reports what is wrong with it, counting as it goes.
                outcome = MapOutcome.Fallback;
            }
            catch (Exception e) when (e is TransformException or JsonException)
            {
                UndoRow(batch, shredder);
                throw;
            }
            return FinishMappedRow(outcome, state, writer, partition, batch, shredder);
        }

        /// <summary>
        /// Keeps (counts and hands to the writer), filters out or rolls back a row the row-level map has just mapped;
        /// false when the record must take the JSON path.
        /// </summary>
        private bool FinishMappedRow(MapOutcome outcome, StreamState state, TableWriter writer, Partition partition, ColumnBatch batch, RecordShredder shredder)
        {
            switch (outcome)
            {
                case MapOutcome.Keep:
                    state.CountRecord(index);
                    writer.RowAdded(index, partition, batch);
                    return true;
                case MapOutcome.Filtered:
                    // The tap sent its undeclared properties all the same: they stay counted, as the JSON path counts them.
                    UndoRow(batch, shredder, keepDrops: true);
                    Interlocked.Increment(ref state.Filtered);
                    return true;
                default:
                    UndoRow(batch, shredder);
                    return false;
            }
        }

        /// <summary>
        /// The batch a record at <paramref name="start"/> goes to, marked, and the lane's shredder, its dropped-property
        /// counts saved: everything <see cref="UndoRow"/> needs to take the row back.
        /// </summary>
        private (Partition Partition, ColumnBatch Batch, RecordShredder Shredder) StartUndoableRow(Utf8JsonReader start, StreamState state, TableWriter writer)
        {
            var partition = ingest._partitionColumn.Length > 0 ? PartitionOf(start, state.PartitionKeyUtf8) : ingest._defaultPartition;
            var batch = writer.BatchFor(index, partition);
            var shredder = writer.Shredders[index];
            _droppedBefore = shredder.DroppedProperties.Save(_droppedListedBefore);
            batch.Mark();
            return (partition, batch, shredder);
        }

        /// <summary>
        /// Rolls back the row just shredded and the rounded-number counts it added, and its dropped-property counts unless
        /// <paramref name="keepDrops"/> (a record the filter removed: the tap sent them).
        /// </summary>
        private void UndoRow(ColumnBatch batch, RecordShredder shredder, bool keepDrops = false)
        {
            batch.RollbackToMark();
            if (!keepDrops) shredder.DroppedProperties.Restore(_droppedListedBefore, _droppedBefore);
            shredder.RoundedNumbers.UncountRecord();
        }

        /// <summary>
        /// Takes back the undeclared properties <see cref="RecordShredder.CountUndeclared"/> counted in a tap's record
        /// before its map, the record being rejected (<paramref name="before"/> null: none were counted).
        /// </summary>
        private void UncountTapDrops(RecordShredder shredder, CappedCounts.Saved? before)
        {
            if (before is { } saved) shredder.DroppedProperties.Restore(_tapDropsListedBefore, saved);
        }

        /// <summary>Dropped-property counts before a record's tap properties were counted on the JSON path (<see cref="UncountTapDrops"/>).</summary>
        private readonly List<KeyValuePair<string, long>> _tapDropsListedBefore = [];

        /// <summary>Dropped-property counts before a record on the typed path, restored when it falls back to the JSON path.</summary>
        private readonly List<KeyValuePair<string, long>> _droppedListedBefore = [];
        private CappedCounts.Saved _droppedBefore;

        /// <summary>
        /// A record through its stream's typed map (<see cref="TypedStreamMap"/>): the map reads the properties it needs and
        /// decides, the record is shredded through the map's projection, the produced columns are filled in. False when
        /// the record must take the JSON path; nothing of it is then written or counted. A <paramref name="recordStart"/>
        /// of 0 or more is where the record starts in a canonical RECORD line whose envelope was not read: what follows
        /// the record is checked before anything is counted.
        /// </summary>
        private bool TryWriteTyped(TypedStreamMap.Lane map, StreamState state, TableWriter writer, ref Utf8JsonReader record, ReadOnlySpan<byte> rawLine, int recordStart = -1)
        {
            var start = record;
            var outcome = map.Apply(ref record, rawLine);
            if (outcome == MapOutcome.Fallback) return false;
            if (recordStart >= 0 && !SingerEnvelope.IsCompleteAfterRecord(rawLine, recordStart + (int)record.BytesConsumed)) return false;
            var (partition, batch, shredder) = StartUndoableRow(start, state, writer);
            var written = false;
            try
            {
                rawLine.Overlaps(start.ValueSpan, out var position);
                if (!shredder.TryShredCanonical(batch, rawLine, ref position))
                {
                    batch.RollbackToMark();
                    shredder.Shred(batch, ref start);
                }
                // A filtered record is shredded too: a value its column does not take makes it invalid all the same
                // (the JSON path reports it).
                written = outcome == MapOutcome.Filtered || map.Fill(batch);
            }
            catch (InvalidValueException) { }
            catch (InvalidOperationException e) when (e.Source == "System.Text.Json") { }
            catch (JsonException)
            {
                UndoRow(batch, shredder);
                throw;
            }
            if (!written)
            {
                // The JSON path shreds the record again and reports what is wrong with it, counting as it goes.
                UndoRow(batch, shredder);
                return false;
            }
            if (outcome == MapOutcome.Filtered)
            {
                UndoRow(batch, shredder, keepDrops: true);
                Interlocked.Increment(ref state.Filtered);
                return true;
            }
            state.CountRecord(index);
            writer.RowAdded(index, partition, batch);
            return true;
        }
    }

    private static readonly int EpochDayNumber = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;

    /// <summary>
    /// The partition of a record from its text, before it is scanned: the value of the first <c>"key":</c> in it, when
    /// that is null or an unescaped date or date-time string (as <see cref="PartitionOf"/> reads it); the null partition
    /// when the key is not there. False for anything else: the general path then decides and reports. The row's scanned
    /// value confirms the partition afterwards (<c>InPartition</c>).
    /// </summary>
    private static bool TryLocatePartition(ReadOnlySpan<byte> record, ReadOnlySpan<byte> quotedKey, out Partition partition)
    {
        partition = new Partition(null);
        // Searched without its opening quote, which is checked afterwards: a search anchored on '"' stops at every
        // property of the record, one on the name's first letter rarely.
        var nameAndQuote = quotedKey[1..];
        var from = 1;
        while (true)
        {
            var at = record[from..].IndexOf(nameAndQuote);
            if (at < 0) return true;
            var p = from + at + nameAndQuote.Length;
            if (record[from + at - 1] != '"')
            {
                from = p;
                continue;
            }
            while (p < record.Length && record[p] is (byte)' ' or (byte)'\t') p++;
            // Not followed by a colon: a string value spelling the name; the property may come later.
            if (p >= record.Length || record[p] != ':')
            {
                from = p;
                continue;
            }
            p++;
            while (p < record.Length && record[p] is (byte)' ' or (byte)'\t') p++;
            if (record[p..].StartsWith("null"u8)) return true;
            if (p >= record.Length || record[p] != '"') return false;
            var text = record[(p + 1)..];
            var end = text.IndexOfAny((byte)'"', (byte)'\\');
            if (end < 0 || end > 64 || text[end] != '"' || PartitionOfLocatedText(text[..end]) is not { } found) return false;
            partition = found;
            return true;
        }
    }

    /// <summary>
    /// <see cref="PartitionOfText(ReadOnlySpan{byte})"/> for the quick look before the scan: a UTC date-time
    /// (<c>yyyy-MM-ddThh:mm:ss[.f]Z</c>, as most taps write it) is on the date its first ten bytes spell, so only those
    /// are parsed; one with a numeric offset (<c>…T hh:mm…±hh:mm</c>) is on that date moved by a day when the hour and
    /// minute less the offset cross midnight, so the seconds and fraction are not parsed. The scan parses the whole value
    /// and <c>InPartition</c> confirms the date (a value this look gets wrong takes the general path).
    /// </summary>
    internal static Partition? PartitionOfLocatedText(ReadOnlySpan<byte> text)
    {
        if (text.Length >= 20 && text[10] is (byte)'T' or (byte)'t' or (byte)' ' && TemporalParser.TryParseDateDays(text[..10], out var days))
        {
            if (text[^1] is (byte)'Z' or (byte)'z') return new Partition(DateOnly.FromDayNumber(EpochDayNumber + days));
            if (text.Length >= 22 && text[^3] == ':' && text[^6] is (byte)'+' or (byte)'-' && text[13] == ':'
                && TwoDigits(text[11..], out var hour) && TwoDigits(text[14..], out var minute) && hour < 24 && minute < 60
                && TwoDigits(text[^5..], out var offsetHours) && TwoDigits(text[^2..], out var offsetMinutes))
            {
                var offset = offsetHours * 60 + offsetMinutes;
                var utcMinutes = hour * 60 + minute - (text[^6] == '+' ? offset : -offset);
                var dayNumber = EpochDayNumber + days + (utcMinutes < 0 ? -1 : utcMinutes / (24 * 60));
                // Past year 9999 or before year 1 in UTC: the full parse rejects it, and says where.
                if (dayNumber >= DateOnly.MinValue.DayNumber && dayNumber <= DateOnly.MaxValue.DayNumber)
                    return new Partition(DateOnly.FromDayNumber(dayNumber));
            }
        }
        return PartitionOfText(text);

        static bool TwoDigits(ReadOnlySpan<byte> s, out int value)
        {
            var tens = s[0] - '0';
            var ones = s[1] - '0';
            value = tens * 10 + ones;
            return (uint)tens <= 9 && (uint)ones <= 9;
        }
    }

    /// <summary>The partition of the record <paramref name="probe"/> is at the start of, by its <paramref name="partitionKeyUtf8"/> property.</summary>
    internal static Partition PartitionOf(Utf8JsonReader probe, byte[] partitionKeyUtf8)
    {
        // A copy of the reader: scanning it leaves the caller's position untouched.
        var depth = probe.CurrentDepth;
        while (probe.Read() && probe.CurrentDepth > depth)
        {
            if (probe.TokenType == JsonTokenType.PropertyName && probe.CurrentDepth == depth + 1 && probe.ValueTextEquals(partitionKeyUtf8))
            {
                probe.Read();
                if (probe.TokenType == JsonTokenType.Null) return new Partition(null);
                if (probe.TokenType == JsonTokenType.String && PartitionOfText(ref probe) is { } partition) return partition;
                return new Partition(null); // the shredder reports the bad value itself
            }
            if (probe.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray) probe.Skip();
        }
        return new Partition(null);
    }

    /// <summary>
    /// The partition of a date or date-time string, unescaped first (a record rewritten by a transform spells an offset's
    /// '+' as \u002B), of any length (the shredder stores a value of any length, so the partition must not give up on
    /// one); null when it is neither (the shredder reports the bad value itself).
    /// </summary>
    internal static Partition? PartitionOfText(ref Utf8JsonReader probe)
    {
        if (!probe.HasValueSequence && !probe.ValueIsEscaped) return PartitionOfText(probe.ValueSpan);
        // Unescaping never lengthens a value.
        var length = probe.HasValueSequence ? checked((int)probe.ValueSequence.Length) : probe.ValueSpan.Length;
        Span<byte> buffer = length <= 64 ? stackalloc byte[64] : new byte[length];
        try { return PartitionOfText(buffer[..probe.CopyString(buffer)]); }
        catch (InvalidOperationException) { return null; }
    }

    /// <summary>The partition of a date or date-time text (UTF-8, unescaped), or null when it is neither.</summary>
    internal static Partition? PartitionOfText(ReadOnlySpan<byte> text)
    {
        if (TemporalParser.TryParseTimestampMicros(text, out var micros)) return new Partition(TemporalParser.DateFromMicros(micros));
        if (TemporalParser.TryParseDateDays(text, out var days)) return new Partition(DateOnly.FromDayNumber(DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber + days));
        return null;
    }

    /// <summary>
    /// Where the row of a RECORD line handed over by <see cref="EngineSink"/> came from (a built-in source's file and
    /// row), while that line is ingested: such a line was printed from a typed row, so its line number names nothing
    /// the user can find.
    /// </summary>
    internal Func<string>? DispatchedRowOrigin { get; set; }

    /// <summary>A code source's record numbers (it has no lines: its errors and notices name records); null for a Singer tap's run.</summary>
    internal RecordNumbers? RecordNumbers { get; set; }

    /// <summary>
    /// Where the record on <paramref name="line"/> came from, when that is not its line: a built-in source's file and row,
    /// or a code source's <c>record N</c> of its stream; null for a tap's line.
    /// </summary>
    internal string? RecordPlace(long line) => DispatchedRowOrigin?.Invoke() ?? RecordNumbers?.PlaceOf(line);

    /// <summary>A SCHEMA the run refuses, named by its line (a tap's) or by its stream alone (a code source's, which has no lines).</summary>
    private SingerProtocolException SchemaError(long line, string reason, string stream) =>
        new(line, reason, stream, place: RecordNumbers is null ? null : $"stream '{stream}'");

    /// <summary>A record rejected; <paramref name="origin"/> names where its row came from instead of its line (a built-in source's file and row).</summary>
    internal void Reject(StreamState state, string reason, ReadOnlySpan<byte> rawLine, long line, string? origin = null)
    {
        origin ??= RecordPlace(line);
        var message = origin is null ? $"stream '{state.Name}', line {line}: {reason}" : $"stream '{state.Name}', {origin}: {reason}";
        lock (_rejectLock)
            RejectLocked(state, message, rawLine, line);
    }

    private void RejectLocked(StreamState state, string message, ReadOnlySpan<byte> rawLine, long line)
    {
        switch (pipeline.OnInvalidRecord)
        {
            case InvalidRecordPolicy.Fail:
                throw new InvalidRecordException(state.Name, line, message + " (set on_invalid_record: skip or quarantine to keep going)");
            case InvalidRecordPolicy.Quarantine:
                if (state.Quarantine is null)
                {
                    Directory.CreateDirectory(settings.SpoolDirectory);
                    state.QuarantinePath = Path.Combine(settings.SpoolDirectory, $"quarantine-{state.Table}.jsonl");
                    state.Quarantine = new FileStream(state.QuarantinePath, FileMode.Create, FileAccess.Write, FileShare.None);
                }
                // A line read again with its NaN quoted is kept as the tap wrote it.
                state.Quarantine.Write(NamedFloatLiterals.Current is { } quoted && quoted.Line.Overlaps(rawLine) ? quoted.Original : rawLine);
                state.Quarantine.WriteByte((byte)'\n');
                break;
        }
        state.Rejected++;
        if (state.Rejected <= 20) RejectionSamples.Add(message);
    }

    /// <summary>The first few rejections, for the run log.</summary>
    public List<string> RejectionSamples { get; } = [];

    /// <summary>
    /// Holds the STATE the run commits: the last one the tap sent, except a null one (no state), which changes nothing. Saving
    /// null would hand the next run no state, so it would read everything again (an appended table then holds every row twice);
    /// the last non-null STATE, or the pipeline's saved state when the run sent none, was written by the tap after data this
    /// run or an earlier one landed, so keeping it neither loses nor adds rows beyond what resuming from a bookmark re-reads.
    /// </summary>
    public void OnState(SingerState state, long line)
    {
        if (!state.IsNull) LastState = state;
    }

    public void OnActivateVersion(string stream, long version, long line)
    {
        if (_streams.TryGetValue(stream, out var state)) state.ActivatedVersion = version;
        else throw new SingerProtocolException(line, "ACTIVATE_VERSION before any SCHEMA for its stream", stream);
    }

    public void OnUnknown(string type, long line) => UnknownMessages.Add(type);
}

/// <summary>A record whose value does not fit its column, under <c>on_invalid_record: fail</c>.</summary>
public sealed class InvalidRecordException(string stream, long line, string message) : PipeException(message)
{
    public string Stream { get; } = stream;
    public long Line { get; } = line;
}

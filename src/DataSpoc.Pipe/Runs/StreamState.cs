using DataSpoc.Pipe.Parquet;

namespace DataSpoc.Pipe.Runs;

/// <summary>What a run knows and has written of one Singer stream.</summary>
internal sealed class StreamState(string name, string table, int lanes)
{
    /// <summary>Per-lane record counts, a cache line apart so parallel lanes do not contend.</summary>
    private readonly long[] _laneRecords = new long[Math.Max(lanes, 1) * 8];

    public void CountRecord(int lane) => _laneRecords[lane * 8]++;

    public void CountRecords(int lane, long records) => _laneRecords[lane * 8] += records;

    public long Records
    {
        get
        {
            long total = 0;
            for (var i = 0; i < _laneRecords.Length; i += 8) total += Volatile.Read(ref _laneRecords[i]);
            return total;
        }
    }

    public string Name { get; } = name;
    public byte[] NameUtf8 { get; } = System.Text.Encoding.UTF8.GetBytes(name);
    /// <summary>The stream's <c>&lt;table&gt;</c> folder name.</summary>
    public string Table { get; } = table;
    public bool Selected { get; init; } = true;
    public TableWriter? Writer { get; set; }
    public IReadOnlyList<string> KeyProperties { get; set; } = [];
    /// <summary>Transforms that rewrite this stream's records one by one (those applied to its schema alone are not here).</summary>
    public IReadOnlyList<Transforms.IRecordTransform> RecordTransforms { get; set; } = [];
    /// <summary>The stream's columns that its map hashed under any of its SCHEMAs this run (the manifest entry's <c>hashed_columns</c>).</summary>
    public HashSet<string> HashedColumns { get; } = new(StringComparer.Ordinal);
    /// <summary>
    /// The stream's columns as its tap's records spell them, when one map rewrites its records on the JSON path: the
    /// undeclared properties the tap sent are counted against it before the map runs (a filtered record's too, a map's
    /// copy of a struct not).
    /// </summary>
    public ColumnSchema? TapColumns { get; set; }
    /// <summary>The stream's map compiled to run on typed values (the JSON path in <see cref="RecordTransforms"/> takes what it cannot).</summary>
    public Transforms.TypedStreamMap? TypedMap { get; set; }
    /// <summary>The record property that holds the partition column (its name, unless renamed by a transform).</summary>
    public byte[] PartitionKeyUtf8 { get; set; } = [];
    /// <summary><see cref="PartitionKeyUtf8"/> in quotes, as the property's name appears in a record.</summary>
    public byte[] PartitionKeyQuoted { get; set; } = [];
    /// <summary>The partition column's index among the batch's columns; -1 when rows are not partitioned by a column.</summary>
    public int PartitionLeaf { get; set; } = -1;
    /// <summary>The partition of each of the stream's rows in input order, when a merge reduces rows of several partitions.</summary>
    public PartitionArrivals? Arrivals { get; set; }
    /// <summary>Files finished under earlier schemas of this stream (a schema change closes the current files).</summary>
    public List<SpooledFile> Files { get; } = [];
    public long? ActivatedVersion { get; set; }
    public long Rejected;
    public long Ignored;
    /// <summary>Records a transform dropped (a filter).</summary>
    public long Filtered;
    public FileStream? Quarantine { get; set; }
    public string? QuarantinePath { get; set; }
    public Lake.CappedCounts DroppedProperties { get; } = new(Config.MergeSettings.DeletedAtColumn);
    /// <summary>The numbers its DOUBLE columns stored rounded, for the run log's notices.</summary>
    public RoundedNumbers RoundedNumbers { get; } = new();

    /// <summary>Rows larger than <c>max_file_mb</c> on their own (each landed alone in a file over the limit), and that limit.</summary>
    public long RowsOverFileLimit { get; private set; }
    public long MaxFileBytes { get; private set; }

    /// <summary>The run log's notice of rows larger than <c>max_file_mb</c>, when there were any.</summary>
    public string? RowsOverFileLimitNotice() => RowsOverFileLimit == 0 ? null
        : $"stream '{Name}': {RowsOverFileLimit} row(s) larger than max_file_mb ({MaxFileBytes / (1024 * 1024)} MB) on their own, each written alone to a file over the limit";
    /// <summary>Columns (leaf paths) the table holds as DOUBLE that the SCHEMA declares decimals of more than 18 places, with that scale (<see cref="Parquet.DecimalsHeldAsDouble"/>).</summary>
    public Dictionary<string, int> DecimalsHeldAsDouble { get; } = new(StringComparer.Ordinal);
    /// <summary>The schema as written (after transforms), for the manifest's columns.</summary>
    public ColumnSchema? Schema => Writer?.Schema ?? _lastSchema;
    private ColumnSchema? _lastSchema;

    /// <summary>Finishes the current writer: its files join <see cref="Files"/>.</summary>
    public async Task CompleteWriterAsync()
    {
        if (Writer is null) return;
        var writer = Writer;
        try
        {
            Files.AddRange(await writer.CompleteAsync().ConfigureAwait(false));
            foreach (var shredder in writer.Shredders)
            {
                DroppedProperties.AddAll(shredder.DroppedProperties);
                RoundedNumbers.Add(shredder.RoundedNumbers);
            }
            RowsOverFileLimit += writer.RowsOverFileLimit;
            MaxFileBytes = writer.Limits.MaxFileBytes;
            _lastSchema = writer.Schema;
        }
        finally
        {
            await DisposeWriterAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Closes the current writer's files without finishing them (a failed run): an open file would keep its disk space
    /// after the spool folder is deleted, and on a full disk the run log could then not be written.
    /// </summary>
    public async Task DisposeWriterAsync()
    {
        if (Writer is not { } writer) return;
        Writer = null;
        await writer.DisposeAsync().ConfigureAwait(false);
    }

    public long FilesSoFar => Files.Count + (Writer?.FilesWritten ?? 0);
    public long BytesSoFar => Files.Sum(f => f.Bytes) + (Writer?.BytesWritten ?? 0);
}

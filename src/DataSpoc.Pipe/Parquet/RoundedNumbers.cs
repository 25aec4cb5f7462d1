using System.Globalization;
using System.Runtime.CompilerServices;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// The numbers a DOUBLE column stored rounded: a JSON number with more significant digits than a double holds (what
/// singer-python writes for an unconstrained PostgreSQL <c>numeric</c>, a Python <c>Decimal</c>) lands as the nearest
/// double, which the run log must say, per column, rather than keep quiet (a tap that sends them is still usable).
/// Likewise the date-times and times a column stored cut to the microsecond (<c>.123456789</c>: <see cref="NoteCut"/>).
/// One per <see cref="RecordShredder"/>: the decode notes a value in the record being shredded, the shredder counts
/// the record's notes when it takes the record and takes them back when its row is rolled back after all.
/// </summary>
internal sealed class RoundedNumbers
{
    /// <summary>A column's rounded values: how many, and the first one (its line 0 when its caller did not say).</summary>
    internal sealed class Column(string path, string text, double stored)
    {
        public string Path { get; } = path;
        public long Count;
        public string Text { get; private set; } = text;
        public double Stored { get; private set; } = stored;
        public long Line;

        /// <summary>Takes <paramref name="other"/>'s first value when it came first (an unknown line comes last).</summary>
        public void Add(Column other)
        {
            Count += other.Count;
            if (other.Line == 0 || (Line != 0 && Line <= other.Line)) return;
            (Text, Stored, Line) = (other.Text, other.Stored, other.Line);
        }
    }

    /// <summary>The counted columns, by path (a schema change starts other leaves for the same columns).</summary>
    private readonly Dictionary<string, Column> _columns = new(StringComparer.Ordinal);

    /// <summary>The record being shredded's rounded values, per leaf (a decode notes them; few leaves, so a list).</summary>
    private readonly List<(LeafNode Leaf, int Count, string Text, double Stored)> _record = [];

    /// <summary>The values cut to the microsecond, by the file they came from and column path, and the record being shredded's, per leaf.</summary>
    private readonly Dictionary<(string? File, string Path), long> _cut = [];
    private readonly List<(LeafNode Leaf, int Count)> _recordCut = [];

    /// <summary>
    /// The file the records being shredded were read from (the jsonl tap's, which hands its lines over whole), for the
    /// cut-value notice to name as the csv and parquet taps name theirs; null for a tap's output.
    /// </summary>
    public string? File;

    /// <summary>The <see cref="File"/> the last taken record's cut values were counted under.</summary>
    private string? _countedFile;

    /// <summary>The record's notes were counted (it was taken and had some) and may still be taken back.</summary>
    public bool RecordCounted => _recordCounted;

    private bool _recordCounted;

    /// <summary>Columns whose first value the last taken record holds, waiting for <see cref="OnLine"/>.</summary>
    private readonly List<Column> _awaitingLine = [];

    public IReadOnlyCollection<Column> Columns => _columns.Values;

    /// <summary>Some counted column's first value waits for its line (<see cref="OnLine"/>): one field read per record.</summary>
    public bool AwaitLine;

    /// <summary>A decoded <paramref name="stored"/> is not the number <paramref name="text"/> writes (see <see cref="HoldsExactly"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void Note(LeafNode leaf, ReadOnlySpan<byte> text, double stored)
    {
        for (var i = 0; i < _record.Count; i++)
            if (ReferenceEquals(_record[i].Leaf, leaf))
            {
                _record[i] = _record[i] with { Count = _record[i].Count + 1 };
                return;
            }
        _record.Add((leaf, 1, ColumnType.Quoted(text), stored));
    }

    /// <summary>A decoded date-time or time lost digits past the microsecond (see <see cref="TemporalParser.TryParseTimestampMicros(ReadOnlySpan{byte}, out long, out bool)"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void NoteCut(LeafNode leaf)
    {
        for (var i = 0; i < _recordCut.Count; i++)
            if (ReferenceEquals(_recordCut[i].Leaf, leaf))
            {
                _recordCut[i] = _recordCut[i] with { Count = _recordCut[i].Count + 1 };
                return;
            }
        _recordCut.Add((leaf, 1));
    }

    /// <summary>A record starts (every scan of one, the tokenizer's after the canonical scan's too): its notes so far are forgotten.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void BeginRecord()
    {
        if (_record.Count > 0 || _recordCut.Count > 0 || _recordCounted) Forget();
    }

    private void Forget()
    {
        _record.Clear();
        _recordCut.Clear();
        _recordCounted = false;
    }

    /// <summary>The record was taken: its notes are counted.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void TakeRecord()
    {
        if (_record.Count > 0 || _recordCut.Count > 0) Count();
    }

    private void Count()
    {
        _countedFile = File;
        foreach (var (leaf, count) in _recordCut) _cut[(File, leaf.Path)] = _cut.GetValueOrDefault((File, leaf.Path)) + count;
        foreach (var (leaf, count, text, stored) in _record)
        {
            if (!_columns.TryGetValue(leaf.Path, out var column))
            {
                _columns[leaf.Path] = column = new Column(leaf.Path, text, stored);
                _awaitingLine.Add(column);
                AwaitLine = true;
            }
            column.Count += count;
        }
        _recordCounted = true;
    }

    /// <summary>The last taken record's row was rolled back after all (a map fell back, its line was not complete): its counts are taken back.</summary>
    public void UncountRecord()
    {
        if (!_recordCounted) return;
        foreach (var (leaf, count) in _recordCut)
            if ((_cut[(_countedFile, leaf.Path)] -= count) == 0) _cut.Remove((_countedFile, leaf.Path));
        foreach (var (leaf, count, _, _) in _record)
        {
            var column = _columns[leaf.Path];
            column.Count -= count;
            if (column.Count > 0) continue;
            _columns.Remove(leaf.Path);
            _awaitingLine.Remove(column);
        }
        AwaitLine = _awaitingLine.Count > 0;
        Forget();
    }

    /// <summary>The last taken record is on <paramref name="line"/> of the tap's output (or the BATCH file's).</summary>
    public void OnLine(long line)
    {
        foreach (var column in _awaitingLine) column.Line = line;
        _awaitingLine.Clear();
        AwaitLine = false;
    }

    /// <summary>Adds <paramref name="other"/>'s counts (another lane's, or an earlier writer's of the same stream).</summary>
    public void Add(RoundedNumbers other)
    {
        foreach (var (key, count) in other._cut) _cut[key] = _cut.GetValueOrDefault(key) + count;
        foreach (var column in other.Columns)
        {
            if (_columns.TryGetValue(column.Path, out var mine)) mine.Add(column);
            else
            {
                var copy = new Column(column.Path, column.Text, column.Stored) { Line = column.Line };
                copy.Count = column.Count;
                _columns[column.Path] = copy;
            }
        }
    }

    /// <summary>
    /// The run log's notice for each column of <paramref name="stream"/> that stored rounded values, and for each column
    /// the table holds as DOUBLE that the SCHEMA (or a compute) makes a decimal (<paramref name="heldAsDouble"/>: path -> its scale;
    /// see <see cref="DecimalsHeldAsDouble"/>), rounded values or not: why it is DOUBLE and how it becomes the DECIMAL.
    /// <paramref name="placeOf"/> names the first rounded value's line otherwise than <c>line N</c> (a code source's <c>record N</c>).
    /// </summary>
    public IEnumerable<string> Notices(string stream, IReadOnlyDictionary<string, int> heldAsDouble, Func<long, string?>? placeOf = null) =>
        _columns.Keys.Union(heldAsDouble.Keys).Order(StringComparer.Ordinal).Select(path =>
        {
            var rounded = _columns.GetValueOrDefault(path);
            if (!heldAsDouble.TryGetValue(path, out var scale))
                return $"stream '{stream}' column '{path}': {Rounded(rounded!, placeOf)}; " +
                    "to land them exact, the stream's SCHEMA must give the column a \"multipleOf\" (1e-10 for 10 digits after the point), " +
                    "which lands it as DECIMAL(38, 10): with tap-postgres, a numeric(p,s) column, or a view that selects it as numeric(38,s) (or ::text for its digits as text)";
            var type = string.Create(CultureInfo.InvariantCulture, $"DECIMAL(38,{scale})");
            return $"stream '{stream}' column '{path}': the column is a decimal of {scale} places ({type}), but the table holds it as DOUBLE " +
                "(a decimal of more than 18 places, and a computed decimal, landed as DOUBLE before this version), so it still lands as DOUBLE: the table keeps one type for it and " +
                "readers of the plain files, Iceberg and Delta see every earlier row" + (rounded is null ? "" : "; " + Rounded(rounded, placeOf)) +
                $"; a full refresh (run --full) rewrites the table with {type}, every digit exact";
        });

    /// <summary>The run log's notice for each column of <paramref name="stream"/> (and file, when known) that stored values cut to the microsecond, as the parquet tap words it.</summary>
    public IEnumerable<string> CutNotices(string stream) =>
        _cut.OrderBy(c => c.Key.Path, StringComparer.Ordinal).ThenBy(c => c.Key.File, StringComparer.Ordinal)
            .Select(c => TemporalParser.CutToMicrosecondNotice(stream, c.Key.File, c.Key.Path, c.Value));

    private static string Rounded(Column c, Func<long, string?>? placeOf) =>
        $"{c.Count} number(s) had more significant digits than a DOUBLE holds and landed rounded " +
        $"(the first{(c.Line > 0 ? $" on {placeOf?.Invoke(c.Line) ?? $"line {c.Line}"}" : "")}: {c.Text} stored as {c.Stored.ToString("R", CultureInfo.InvariantCulture)})";

    /// <summary>
    /// Whether <paramref name="stored"/> (a finite double parsed from <paramref name="number"/>, valid JSON number text)
    /// gives back the number written, by <see cref="DoubleText.IsPrintedFormOf"/> (lenient: a tap's 17-digit double text
    /// is not counted). A caller needs to ask only for a number of more than 15 significant digits or with an exponent:
    /// any other is a normal double's.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static bool HoldsExactly(ReadOnlySpan<byte> number, double stored) =>
        DecimalText.TryParse(number, out var written) && DoubleText.IsPrintedFormOf(written, stored);
}

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// A lane's records of a stream partitioned by one of its columns, scanned into one batch in input order and then
/// moved to their partitions' batches in bulk (<see cref="MoveToPartitions"/>, at the end of each chunk of lines). The
/// scan needs no partition before it starts, so the partition is read from the scanned value instead of being located
/// in the record's text first, and each partition batch is written column by column, a few hundred rows at a time,
/// instead of eight columns of one of many batches per record (bench/README.md, "Partitioned rows moved in bulk").
/// Only for batches without lists: every column holds exactly one level per row, so row i is level i of each column.
/// </summary>
internal sealed class PartitionStaging
{
    private readonly int _partitionLeaf;
    private readonly bool _dateColumn;
    /// <summary>Per staged row, the index of its partition in <see cref="_partitions"/>.</summary>
    private int[] _slots = new int[1024];
    private readonly List<Partition> _partitions = [];
    /// <summary>Slots by epoch day, at <see cref="_days"/>' index; -1 for none yet. Days outside go through the dictionary.</summary>
    private readonly int[] _slotByDay = Enumerable.Repeat(-1, DayWindow.Size).ToArray();
    private DayWindow _days;
    private readonly Dictionary<Partition, int> _slotOf = [];
    private int _lastDay = int.MinValue;
    private int _lastSlot = -1;

    /// <summary>A day number no date has: the row's partition column is null.</summary>
    private const int NoDay = int.MinValue + 1;

    public PartitionStaging(ColumnSchema schema, int partitionLeaf, ColumnArrays arrays)
    {
        Batch = new ColumnBatch(schema, arrays);
        _partitionLeaf = partitionLeaf;
        _dateColumn = schema.Leaves[partitionLeaf].Kind == LeafKind.Date;
    }

    /// <summary>Whether a batch of <paramref name="schema"/> can be staged: no column inside a list.</summary>
    public static bool Takes(ColumnSchema schema) => schema.Leaves.All(l => l.RepLevel == 0);

    /// <summary>The rows scanned and not moved yet; a scan appends to it (one row, or none when rolled back).</summary>
    public ColumnBatch Batch { get; }

    /// <summary>Notes the partition of the row just scanned (the batch's last), from its partition column.</summary>
    public void RowScanned()
    {
        var row = Batch.Rows - 1;
        var column = Batch.Columns[_partitionLeaf];
        int day;
        if (column.Def[row] != column.Leaf.DefLevel) day = NoDay;
        else if (_dateColumn) day = column.Ints[column.Values - 1];
        else
        {
            // Floored: a time before 1970 is on the day before its truncated quotient.
            var micros = column.Longs[column.Values - 1];
            day = (int)(micros >= 0 ? micros / MicrosPerDay : (micros + 1) / MicrosPerDay - 1);
        }
        if (row == _slots.Length) Array.Resize(ref _slots, _slots.Length * 2);
        _slots[row] = day == _lastDay ? _lastSlot : SlotOf(day);
    }

    private const long MicrosPerDay = 86_400_000_000L;

    private int SlotOf(int day)
    {
        var index = day == NoDay ? -1 : _days.IndexOf(day);
        int slot;
        if (index >= 0)
        {
            slot = _slotByDay[index];
            if (slot < 0) slot = _slotByDay[index] = NewSlot(day);
        }
        else
        {
            var partition = PartitionOfDay(day);
            if (!_slotOf.TryGetValue(partition, out slot)) slot = _slotOf[partition] = NewSlot(day);
        }
        _lastDay = day;
        _lastSlot = slot;
        return slot;
    }

    private int NewSlot(int day)
    {
        _partitions.Add(PartitionOfDay(day));
        return _partitions.Count - 1;
    }

    private static readonly int EpochDayNumber = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;

    private static Partition PartitionOfDay(int day) => new(day == NoDay ? null : DateOnly.FromDayNumber(EpochDayNumber + day));

    // Per move, by slot: the partition's batch, the rows it may take before the writer's next check, the rows it took,
    // where its rows start in the round's order.
    private ColumnBatch?[] _targets = [];
    private int[] _room = [];
    private int[] _taken = [];
    private int[] _start = [];
    private readonly List<int> _touched = [];
    /// <summary>A round's rows ordered by partition (in input order within one), and each row's value index in the column moved.</summary>
    private readonly int[] _order = new int[BufferBudget.CheckRows];
    private readonly int[] _valueOf = new int[BufferBudget.CheckRows];

    /// <summary>
    /// Moves the staged rows, in order, to their partitions' batches of <paramref name="lane"/>, with every check the
    /// writer makes when rows are added one by one (a batch is sized, cut or handed over at the same row, the budget
    /// looked at every <see cref="BufferBudget.CheckRows"/> rows), and empties the staging. Rows go in rounds up to
    /// the budget's next look: a round's rows are ordered by partition once, then each column is copied partition by
    /// partition (a run of appends to one buffer).
    /// </summary>
    public void MoveToPartitions(TableWriter writer, int lane)
    {
        var rows = Batch.Rows;
        if (rows == 0) return;
        var slotCount = _partitions.Count;
        if (_targets.Length < slotCount)
        {
            _targets = new ColumnBatch?[slotCount * 2];
            _room = new int[slotCount * 2];
            _taken = new int[slotCount * 2];
            _start = new int[slotCount * 2];
        }
        var columns = Batch.Columns;
        Span<int> valueAt = columns.Length <= 256 ? stackalloc int[columns.Length] : new int[columns.Length];
        valueAt.Clear();
        var from = 0;
        while (from < rows)
        {
            // A round: the rows up to the budget's next look, or to the first one its partition's batch has no room for.
            var end = from + Math.Min(rows - from, writer.RowsBeforeBudgetCheck(lane));
            var to = from;
            for (; to < end; to++)
            {
                var slot = _slots[to];
                if (_targets[slot] is null)
                {
                    var target = writer.BatchFor(lane, _partitions[slot]);
                    _targets[slot] = target;
                    _room[slot] = writer.RowsBeforeCheck(lane, target);
                    _taken[slot] = 0;
                    _touched.Add(slot);
                }
                if (_taken[slot] == _room[slot]) break;
                _taken[slot]++;
            }
            var at = 0;
            foreach (var slot in _touched)
            {
                _start[slot] = at;
                at += _taken[slot];
            }
            for (var r = from; r < to; r++) _order[_start[_slots[r]]++] = r;
            if (writer.Arrivals is { } arrivals)
                for (var r = from; r < to; r++) arrivals.Add(_partitions[_slots[r]]);
            for (var c = 0; c < columns.Length; c++)
            {
                var column = columns[c];
                var firstValue = valueAt[c];
                var value = firstValue + (to - from);
                // A column with a value in every row (the usual case) needs no index of values.
                var valueOf = default(Span<int>);
                if (column.Values != rows)
                {
                    value = firstValue;
                    var present = column.Leaf.DefLevel;
                    var def = column.Def;
                    for (var r = from; r < to; r++)
                    {
                        _valueOf[r - from] = value;
                        if (def[r] == present) value++;
                    }
                    if (value - firstValue != to - from) valueOf = _valueOf.AsSpan(0, to - from);
                }
                valueAt[c] = value;
                foreach (var slot in _touched)
                {
                    var taken = _taken[slot];
                    _targets[slot]!.Columns[c].AppendRows(column, _order.AsSpan(_start[slot] - taken, taken), from, valueOf, firstValue);
                }
            }
            foreach (var slot in _touched) _targets[slot]!.Rows += _taken[slot];
            foreach (var slot in _touched) writer.RowsAdded(lane, _partitions[slot], _targets[slot]!, _taken[slot]);
            writer.BudgetRowsAdded(lane, to - from);
            foreach (var slot in _touched) _targets[slot] = null;
            _touched.Clear();
            from = to;
        }
        Batch.Clear();
    }

    /// <summary>Hands the staging batch's arrays back to the pools; it must be empty and is not used afterwards.</summary>
    public void Release() => Batch.Release();
}

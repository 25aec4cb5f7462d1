using System.Collections;
using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace DataSpoc.Pipe.Lake;

/// <summary>
/// Counts by name, of names a tap chooses (undeclared properties, unknown message types): the first
/// <see cref="MaxListed"/> names keep their own count, every further name only adds to <see cref="Unlisted"/>. A tap
/// that writes map-like keys (ids or dates as property names) sends millions of distinct names: kept one by one they
/// would grow the run's memory and its run log without bound (and `status`, `logs`, the dashboard read that log).
/// </summary>
public sealed class CappedCounts : IEnumerable<KeyValuePair<string, long>>
{
    /// <summary>How many names keep their own count.</summary>
    public const int MaxListed = 100;

    /// <summary>How many distinct unlisted names are told apart (by a 64-bit hash each); beyond, the count stays at this.</summary>
    public const int MaxUnlistedNamesCounted = 10_000;

    private readonly Dictionary<string, long> _listed = new(StringComparer.Ordinal);
    /// <summary>Names listed even past <see cref="MaxListed"/>: a count the run acts on (merge refuses undeclared deletes).</summary>
    private readonly string? _alwaysListed;

    public CappedCounts(string? alwaysListed = null) => _alwaysListed = alwaysListed;
    /// <summary>The unlisted names' hashes, in the order met (a rollback takes back the last ones).</summary>
    private readonly List<ulong> _unlistedOrder = [];
    private readonly HashSet<ulong> _unlistedNames = [];
    private long _unlistedOccurrences;

    /// <summary>The names beyond the listed ones: how many distinct (at most <see cref="MaxUnlistedNamesCounted"/>) and how often met.</summary>
    public RunLogUnlisted? Unlisted => _unlistedOrder.Count == 0 ? null : new RunLogUnlisted(_unlistedOrder.Count, _unlistedOccurrences);

    /// <summary>How many names are listed.</summary>
    public int Count => _listed.Count;

    /// <summary>Whether any name was counted, listed or not.</summary>
    public bool Any => _listed.Count > 0 || _unlistedOrder.Count > 0;

    public bool TryGetValue(string name, out long count) => _listed.TryGetValue(name, out count);

    public long this[string name] => _listed[name];

    /// <summary>Adds <paramref name="count"/> (negative to take back) to <paramref name="name"/>'s count.</summary>
    public void Add(string name, long count = 1)
    {
        ref var listed = ref CollectionsMarshal.GetValueRefOrNullRef(_listed, name);
        if (!System.Runtime.CompilerServices.Unsafe.IsNullRef(ref listed)) listed += count;
        else if (_listed.Count < MaxListed || name == _alwaysListed) _listed[name] = count;
        else AddUnlisted(XxHash3.HashToUInt64(MemoryMarshal.AsBytes(name.AsSpan())), count);
    }

    private void AddUnlisted(ulong hash, long occurrences)
    {
        _unlistedOccurrences += occurrences;
        if (_unlistedOrder.Count < MaxUnlistedNamesCounted && _unlistedNames.Add(hash)) _unlistedOrder.Add(hash);
    }

    /// <summary>Adds every count of <paramref name="other"/> (another lane's, another run log stream's).</summary>
    public void AddAll(CappedCounts other)
    {
        foreach (var (name, count) in other._listed) Add(name, count);
        foreach (var hash in other._unlistedOrder) AddUnlisted(hash, 0);
        _unlistedOccurrences += other._unlistedOccurrences;
    }

    public void Clear()
    {
        _listed.Clear();
        _unlistedOrder.Clear();
        _unlistedNames.Clear();
        _unlistedOccurrences = 0;
    }

    /// <summary>What <see cref="Restore"/> needs to take back every count added after it (one row rolled back).</summary>
    public readonly record struct Saved(long UnlistedOccurrences, int UnlistedNames);

    /// <summary>Saves the counts: the listed ones into <paramref name="listed"/> (reused; at most <see cref="MaxListed"/>).</summary>
    public Saved Save(List<KeyValuePair<string, long>> listed)
    {
        listed.Clear();
        listed.AddRange(_listed);
        return new Saved(_unlistedOccurrences, _unlistedOrder.Count);
    }

    /// <summary>Puts back the counts <see cref="Save"/> saved.</summary>
    public void Restore(List<KeyValuePair<string, long>> listed, Saved saved)
    {
        _listed.Clear();
        foreach (var (name, count) in listed) _listed[name] = count;
        for (var i = saved.UnlistedNames; i < _unlistedOrder.Count; i++) _unlistedNames.Remove(_unlistedOrder[i]);
        _unlistedOrder.RemoveRange(saved.UnlistedNames, _unlistedOrder.Count - saved.UnlistedNames);
        _unlistedOccurrences = saved.UnlistedOccurrences;
    }

    /// <summary>The listed names and their counts.</summary>
    public IEnumerator<KeyValuePair<string, long>> GetEnumerator() => _listed.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

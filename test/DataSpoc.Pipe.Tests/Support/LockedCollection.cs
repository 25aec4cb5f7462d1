using System.Collections;

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>
/// A list that other threads may add to while a test reads it: OpenTelemetry's in-memory exporters add spans from
/// whichever thread ends them, and other test classes' runs end theirs at the same time. Reading takes a copy.
/// </summary>
internal sealed class LockedCollection<T> : ICollection<T>
{
    private readonly List<T> _items = [];

    public List<T> Snapshot() { lock (_items) return [.. _items]; }

    public int Count { get { lock (_items) return _items.Count; } }
    public bool IsReadOnly => false;
    public void Add(T item) { lock (_items) _items.Add(item); }
    public void Clear() { lock (_items) _items.Clear(); }
    public bool Contains(T item) { lock (_items) return _items.Contains(item); }
    public void CopyTo(T[] array, int arrayIndex) { lock (_items) _items.CopyTo(array, arrayIndex); }
    public bool Remove(T item) { lock (_items) return _items.Remove(item); }
    public IEnumerator<T> GetEnumerator() => Snapshot().GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

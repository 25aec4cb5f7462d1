namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// The first collections of a `run` process, deferred. In its first tenth of a second a run allocates the column buffers
/// it then reuses (~30 MiB of large arrays for one stream), and with the runtime's starting budgets that is six full,
/// blocking collections of a heap that is nearly all live buffers: ~10 ms in which the reading thread stands still. The
/// run command's process therefore starts in a no-GC region sized for those buffers: the runtime collects once when it
/// starts (a heap of a few MiB), lets that much be allocated without a collection, and ends the region by itself with
/// one collection when a run allocates more, after which it collects as usual. Only this process does this: a program
/// running pipelines through the API keeps its own collection policy. Figures: bench/README.md, "Issue 23: start-up
/// without the loader's work, session 12".
/// </summary>
internal static class RunStartCollections
{
    /// <summary>Large arrays (the column buffers) and small objects a run may allocate before its first collection after start-up.</summary>
    private const long LargeObjectBytes = 32L << 20, SmallObjectBytes = 8L << 20;

    public static void Defer()
    {
        try
        {
            GC.TryStartNoGCRegion(LargeObjectBytes + SmallObjectBytes, LargeObjectBytes);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentOutOfRangeException)
        {
            // Already in a region, or more than this runtime's configuration allows: the run then collects as usual.
        }
    }
}

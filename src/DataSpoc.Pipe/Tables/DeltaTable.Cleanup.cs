using System.Globalization;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tables;

/// <summary>Which of the log's files have expired (protocol "Metadata Cleanup"); <see cref="TableMaintenance"/> deletes them.</summary>
internal sealed partial class DeltaTable
{
    /// <summary>The table property (metaData <c>configuration</c>) saying how long the log keeps a version, as Delta's own writers read it.</summary>
    public const string LogRetentionProperty = "delta.logRetentionDuration";

    /// <summary>Delta's default for <see cref="LogRetentionProperty"/>.</summary>
    public static readonly TimeSpan DefaultLogRetention = TimeSpan.FromDays(30);

    /// <summary>
    /// The log files a cleanup deletes, oldest version first (protocol "Metadata Cleanup"): the <c>cutoffCommit</c> is the
    /// newest entry not newer than midnight UTC of the day the retention began (an entry's time is its file's modification
    /// time, as the protocol says for tables without in-commit timestamps; a later entry with an earlier time does not
    /// make an earlier one young again, so the times are taken as never decreasing), the <c>cutOffCheckpoint</c> the
    /// newest complete checkpoint at or before it. Everything before that checkpoint goes: entries, checkpoints and
    /// checksum files of older versions, and log compaction files starting at or before it. Kept: the checkpoint and its
    /// entry and every entry after it, so a reader rebuilds the latest version, and every version within the retention,
    /// from that checkpoint on; <c>_last_checkpoint</c> (it names a checkpoint at least as new); the <c>_sidecars/</c>
    /// and <c>_staged_commits/</c> folders (this writer makes neither). Without such a checkpoint nothing goes.
    /// </summary>
    /// <remarks>
    /// The retention is the table's <see cref="LogRetentionProperty"/> (default <see cref="DefaultLogRetention"/>), and at
    /// least <paramref name="minimumRetention"/> (<c>maintain --expire-older-than</c>: the data files it keeps for time
    /// travel are of no use without the log entries that name them). Oldest first, so a cleanup stopped half-way leaves a
    /// log that still starts at its oldest remaining version and holds the checkpoint a reader starts from.
    /// </remarks>
    public async Task<List<string>> ExpiredLogFilesAsync(string tablePrefix, JsonObject metaData, TimeSpan minimumRetention, CancellationToken cancellationToken)
    {
        var log = LogPrefix(tablePrefix);
        var configured = metaData["configuration"]?[LogRetentionProperty];
        var retention = DefaultLogRetention;
        if (configured is not null)
        {
            var text = configured.GetValueKind() == System.Text.Json.JsonValueKind.String ? configured.GetValue<string>() : configured.ToJsonString();
            retention = ParseInterval(text) ?? throw new StorageException($"{store.Bucket}/{log}: the Delta table's {LogRetentionProperty} '{text}' is not an interval " +
                "(e.g. 'interval 30 days', 'interval 2 weeks'; months and years are not allowed, as in Delta); nothing of its log was deleted: correct the table property");
        }
        if (minimumRetention > retention) retention = minimumRetention;
        var now = time.GetUtcNow();
        if (retention >= now - DateTimeOffset.UnixEpoch) return []; // no entry is older than 1970
        var cutoff = new DateTimeOffset((now - retention).UtcDateTime.Date, TimeSpan.Zero);

        var commitTimes = new SortedDictionary<long, DateTimeOffset>();
        var versioned = new List<(long Version, string Key)>();
        var checkpointParts = new Dictionary<(long Version, int Parts), int>();
        await foreach (var obj in store.ListAsync(log, cancellationToken).ConfigureAwait(false))
        {
            var name = obj.Key[log.Length..];
            if (name.Contains('/')) continue; // _sidecars/ (named by checkpoints), _staged_commits/ (a catalog's): left alone
            if (IsCommitName(name, out var version)) commitTimes[version] = obj.LastModified;
            else if (DeltaCheckpoint.ParseName(name) is { } c)
            {
                version = c.Version;
                checkpointParts[(c.Version, c.Parts)] = checkpointParts.GetValueOrDefault((c.Version, c.Parts)) + 1;
            }
            else if (!IsChecksumOrCompactionName(name, out version)) continue; // _last_checkpoint, a temp file
            versioned.Add((version, obj.Key));
        }
        long? cutoffCommit = null;
        var newest = DateTimeOffset.MinValue;
        foreach (var (version, modified) in commitTimes)
        {
            if (modified > newest) newest = modified;
            if (newest > cutoff) break;
            cutoffCommit = version;
        }
        if (cutoffCommit is not { } last) return [];
        var checkpoint = checkpointParts.Where(c => c.Value == c.Key.Parts && c.Key.Version <= last).Select(c => (long?)c.Key.Version).Max();
        if (checkpoint is not { } from) return [];
        // A log compaction file counts at its start version: one starting at the checkpoint is no longer needed either.
        return [.. versioned.Where(f => f.Version < from || (f.Version == from && f.Key.EndsWith(".compacted.json", StringComparison.Ordinal)))
            .OrderBy(f => f.Version).ThenBy(f => f.Key, StringComparer.Ordinal).Select(f => f.Key)];
    }

    /// <summary>
    /// A version checksum file (<c>&lt;version&gt;.crc</c>) or a log compaction file
    /// (<c>&lt;start&gt;.&lt;end&gt;.compacted.json</c>), and its version (a compaction's start version).
    /// </summary>
    private static bool IsChecksumOrCompactionName(string name, out long version)
    {
        version = -1;
        if (name.Length < 21 || name[20] != '.' || !long.TryParse(name.AsSpan(0, 20), NumberStyles.None, CultureInfo.InvariantCulture, out version)) return false;
        var rest = name[21..];
        return rest == "crc" || (rest.Length == 20 + ".compacted.json".Length && rest.EndsWith(".compacted.json", StringComparison.Ordinal)
            && long.TryParse(rest.AsSpan(0, 20), NumberStyles.None, CultureInfo.InvariantCulture, out _));
    }

    /// <summary>
    /// A Delta interval table property (<c>interval 30 days</c>, <c>30 days</c>, <c>interval 1 week 12 hours</c>; units
    /// from microseconds to weeks, singular or plural, any case), else null: months and years, whose length varies, are
    /// refused as Delta refuses them, and so is a negative amount. One too long for a <see cref="TimeSpan"/> is its maximum.
    /// </summary>
    internal static TimeSpan? ParseInterval(string text)
    {
        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var i = words.Length > 0 && words[0].Equals("interval", StringComparison.OrdinalIgnoreCase) ? 1 : 0;
        if (i == words.Length || (words.Length - i) % 2 != 0) return null;
        var ticks = 0d; // a double: a huge amount of weeks overflows a long (and a decimal), and only saturates here
        for (; i < words.Length; i += 2)
        {
            if (!long.TryParse(words[i], NumberStyles.None, CultureInfo.InvariantCulture, out var amount)) return null;
            var unit = words[i + 1].ToLowerInvariant();
            long? perUnit = (unit.EndsWith('s') ? unit[..^1] : unit) switch
            {
                "week" => TimeSpan.TicksPerDay * 7,
                "day" => TimeSpan.TicksPerDay,
                "hour" => TimeSpan.TicksPerHour,
                "minute" => TimeSpan.TicksPerMinute,
                "second" => TimeSpan.TicksPerSecond,
                "millisecond" => TimeSpan.TicksPerMillisecond,
                "microsecond" => TimeSpan.TicksPerMicrosecond,
                _ => null,
            };
            if (perUnit is null) return null;
            ticks += (double)amount * perUnit.Value;
        }
        return ticks >= (double)TimeSpan.MaxValue.Ticks ? TimeSpan.MaxValue : TimeSpan.FromTicks((long)ticks);
    }
}

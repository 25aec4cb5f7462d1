using System.Globalization;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// A Delta table's retention properties (protocol, "Table properties" / "Checkpoints"): interval strings such as
/// <c>interval 1 week</c> or <c>interval 7 days 12 hours</c> in the metaData's <c>configuration</c>.
/// </summary>
internal static class DeltaRetention
{
    /// <summary>How long a checkpoint keeps a <c>remove</c> tombstone: the protocol's default, 1 week.</summary>
    public const string DeletedFileRetentionProperty = "delta.deletedFileRetentionDuration";
    public static readonly TimeSpan DefaultDeletedFileRetention = TimeSpan.FromDays(7);

    /// <summary>
    /// The table's <see cref="DeletedFileRetentionProperty"/>, or the default when it is not set; null when it is set
    /// to something this build cannot read (a caller then keeps every tombstone, the safe side).
    /// </summary>
    public static TimeSpan? DeletedFileRetention(JsonObject? metaData) =>
        metaData?["configuration"]?[DeletedFileRetentionProperty] is not { } value ? DefaultDeletedFileRetention
        : value.GetValueKind() == System.Text.Json.JsonValueKind.String ? ParseInterval(value.GetValue<string>()) : null;

    /// <summary>
    /// <c>interval N unit [N unit ...]</c> (Spark's calendar interval text, as Delta writers set it; units week, day,
    /// hour, minute, second, millisecond, microsecond, singular or plural; case-insensitive), or null if it is not one.
    /// Months and years, which have no fixed length, are not accepted (Delta refuses them too).
    /// </summary>
    public static TimeSpan? ParseInterval(string text)
    {
        var words = text.Trim().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (words.Length < 3 || words.Length % 2 == 0 || !words[0].Equals("interval", StringComparison.OrdinalIgnoreCase)) return null;
        var total = TimeSpan.Zero;
        for (var i = 1; i < words.Length; i += 2)
        {
            if (!long.TryParse(words[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n)) return null;
            var unit = words[i + 1].ToLowerInvariant().TrimEnd('s');
            TimeSpan? one = unit switch
            {
                "week" => TimeSpan.FromDays(7),
                "day" => TimeSpan.FromDays(1),
                "hour" => TimeSpan.FromHours(1),
                "minute" => TimeSpan.FromMinutes(1),
                "second" => TimeSpan.FromSeconds(1),
                "millisecond" => TimeSpan.FromMilliseconds(1),
                "microsecond" => TimeSpan.FromMicroseconds(1),
                _ => null,
            };
            if (one is not { } u) return null;
            try { total += u * n; }
            catch (OverflowException) { return null; }
        }
        return total < TimeSpan.Zero ? null : total;
    }
}

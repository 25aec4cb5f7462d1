using System.Globalization;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Tables;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// Hive-style partition folders (<c>sales/year=2020/region=r0/data_0.parquet</c>, as DuckDB's <c>PARTITION_BY</c>,
/// Spark and pyarrow write them): the writer keeps the partition columns out of the files, so the folder names are the
/// only place their values are. They are read as DuckDB's <c>hive_partitioning</c> reads them: one column per
/// <c>key=value</c> folder, after the file's columns in folder order, the value URL-decoded (Spark and pyarrow escape
/// <c>/</c>, <c>:</c>, <c>=</c> and <c>%</c> in it), <c>__HIVE_DEFAULT_PARTITION__</c> a null, typed over all the
/// stream's files as integers when every value is one, else as dates (<c>yyyy-MM-dd</c>), else as strings. A column the
/// file holds itself is read from the file. The values reach the rows as a Delta table's partition values do
/// (<see cref="DeltaPartitionShape"/>).
/// </summary>
internal static class HivePartitions
{
    /// <summary>
    /// Sets <see cref="SourceFile.DeltaPartition"/> of each of <paramref name="files"/> (one stream's) that is below
    /// <c>key=value</c> folders (<paramref name="partitionsOf"/>) and not a Delta table's file (whose log has its values).
    /// </summary>
    public static void AddColumns(List<SourceFile> files, Func<SourceFile, string[]> partitionsOf)
    {
        var parsed = files.Select(f => f.DeltaPartition is null ? partitionsOf(f).Select(Parse).ToList() : []).ToList();
        var keys = parsed.SelectMany(p => p.Select(v => v.Key)).Distinct(StringComparer.Ordinal).ToList();
        if (keys.Count == 0) return;
        var types = keys.ToDictionary(k => k, k => TypeOf(parsed.SelectMany(p => p.Where(v => v.Key == k && v.Value is not null).Select(v => v.Value!))), StringComparer.Ordinal);
        for (var i = 0; i < files.Count; i++)
        {
            if (parsed[i].Count == 0) continue;
            var values = parsed[i].Select(v => new DeltaPartitionValue(v.Key, types[v.Key], v.Value)).ToList();
            // Partition columns follow the file's columns (DeltaPartitionShape puts the columns it does not name after those it does).
            files[i] = files[i] with { DeltaPartition = new DeltaPartitionValues([], values) };
        }
    }

    private static (string Key, string? Value) Parse(string folder)
    {
        var equals = folder.IndexOf('=');
        var key = Uri.UnescapeDataString(folder[..equals]);
        var value = Uri.UnescapeDataString(folder[(equals + 1)..]);
        return (key, value == LakePaths.HiveNullPartition ? null : value);
    }

    /// <summary>The Delta type name a partition column is read as (<see cref="DeltaPartitionShape"/> reads those).</summary>
    private static string TypeOf(IEnumerable<string> values)
    {
        var list = values.ToList();
        if (list.Count == 0) return "string";
        if (list.All(v => long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))) return "long";
        if (list.All(v => DateOnly.TryParseExact(v, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _))) return "date";
        return "string";
    }
}

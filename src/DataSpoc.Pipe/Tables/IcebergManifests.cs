using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Tables;

/// <summary>
/// Iceberg v2 manifests and manifest lists as Avro, with the spec's schemas and field ids (table spec, "Manifests"
/// and "Manifest Lists"). Maps keyed by column id use the array-of-records representation with
/// <c>"logicalType": "map"</c>, as the spec requires for non-string keys.
/// </summary>
internal static class IcebergManifests
{
    public const string FormatVersion = "2";

    private static string IntLongMap(string name, int fieldId, int keyId, int valueId, string valueType) =>
        $$$"""{"name":"{{{name}}}","type":["null",{"type":"array","logicalType":"map","items":{"type":"record","name":"k{{{keyId}}}_v{{{valueId}}}","fields":[{"name":"key","type":"int","field-id":{{{keyId}}}},{"name":"value","type":"{{{valueType}}}","field-id":{{{valueId}}}}]}}],"default":null,"field-id":{{{fieldId}}}}""";

    /// <summary>The <c>manifest_entry</c> schema for a spec with <paramref name="partition"/> (or none).</summary>
    public static string EntrySchema(PartitionField? partition)
    {
        var partitionFields = partition is null
            ? ""
            : $$"""{"name":"{{AvroName(partition.Name)}}","type":["null",{"type":"int","logicalType":"date"}],"default":null,"field-id":{{partition.FieldId}}}""";
        return
            $$"""{"type":"record","name":"manifest_entry","fields":[""" +
            """{"name":"status","type":"int","field-id":0},""" +
            """{"name":"snapshot_id","type":["null","long"],"default":null,"field-id":1},""" +
            """{"name":"sequence_number","type":["null","long"],"default":null,"field-id":3},""" +
            """{"name":"file_sequence_number","type":["null","long"],"default":null,"field-id":4},""" +
            """{"name":"data_file","type":{"type":"record","name":"r2","fields":[""" +
            """{"name":"content","type":"int","doc":"Contents of the file: 0=data, 1=position deletes, 2=equality deletes","field-id":134},""" +
            """{"name":"file_path","type":"string","doc":"Location URI with FS scheme","field-id":100},""" +
            """{"name":"file_format","type":"string","doc":"File format name: avro, orc, or parquet","field-id":101},""" +
            $$"""{"name":"partition","type":{"type":"record","name":"r102","fields":[{{partitionFields}}]},"doc":"Partition data tuple, schema based on the partition spec","field-id":102},""" +
            """{"name":"record_count","type":"long","doc":"Number of records in the file","field-id":103},""" +
            """{"name":"file_size_in_bytes","type":"long","doc":"Total file size in bytes","field-id":104},""" +
            IntLongMap("column_sizes", 108, 117, 118, "long") + "," +
            IntLongMap("value_counts", 109, 119, 120, "long") + "," +
            IntLongMap("null_value_counts", 110, 121, 122, "long") + "," +
            IntLongMap("lower_bounds", 125, 126, 127, "bytes") + "," +
            IntLongMap("upper_bounds", 128, 129, 130, "bytes") +
            """]},"field-id":2}]}""";
    }

    /// <summary>A partition field name as an Avro name ([A-Za-z_][A-Za-z0-9_]*); the spec's own name stays in the metadata.</summary>
    private static string AvroName(string name)
    {
        var chars = name.Select(c => char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_').ToArray();
        var result = new string(chars);
        return result.Length == 0 || char.IsAsciiDigit(result[0]) ? "_" + result : result;
    }

    public const string ListSchema =
        """{"type":"record","name":"manifest_file","fields":[""" +
        """{"name":"manifest_path","type":"string","doc":"Location URI with FS scheme","field-id":500},""" +
        """{"name":"manifest_length","type":"long","doc":"Total file size in bytes","field-id":501},""" +
        """{"name":"partition_spec_id","type":"int","doc":"Spec ID used to write","field-id":502},""" +
        """{"name":"content","type":"int","doc":"Contents of the manifest: 0=data, 1=deletes","field-id":517},""" +
        """{"name":"sequence_number","type":"long","doc":"Sequence number when the manifest was added","field-id":515},""" +
        """{"name":"min_sequence_number","type":"long","doc":"Lowest sequence number in the manifest","field-id":516},""" +
        """{"name":"added_snapshot_id","type":"long","doc":"Snapshot ID that added the manifest","field-id":503},""" +
        """{"name":"added_files_count","type":"int","doc":"Added entry count","field-id":504},""" +
        """{"name":"existing_files_count","type":"int","doc":"Existing entry count","field-id":505},""" +
        """{"name":"deleted_files_count","type":"int","doc":"Deleted entry count","field-id":506},""" +
        """{"name":"added_rows_count","type":"long","doc":"Added rows count","field-id":512},""" +
        """{"name":"existing_rows_count","type":"long","doc":"Existing rows count","field-id":513},""" +
        """{"name":"deleted_rows_count","type":"long","doc":"Deleted rows count","field-id":514},""" +
        """{"name":"partitions","type":["null",{"type":"array","items":{"type":"record","name":"r508","fields":[""" +
        """{"name":"contains_null","type":"boolean","doc":"True if any file has a null partition value","field-id":509},""" +
        """{"name":"contains_nan","type":["null","boolean"],"doc":"True if any file has a nan partition value","default":null,"field-id":518},""" +
        """{"name":"lower_bound","type":["null","bytes"],"doc":"Partition lower bound for all files","default":null,"field-id":510},""" +
        """{"name":"upper_bound","type":["null","bytes"],"doc":"Partition upper bound for all files","default":null,"field-id":511}""" +
        """]},"element-id":508}],"doc":"Summary for each partition","default":null,"field-id":507}""" +
        """]}""";

    /// <summary>One manifest-list row; <c>CountsMissing</c>: read from a list without added or existing file counts (v1 allows it).</summary>
    public sealed record ListEntry(
        string Path, long Length, int SpecId, int Content, long SequenceNumber, long MinSequenceNumber, long AddedSnapshotId,
        int AddedFiles, int ExistingFiles, int DeletedFiles, long AddedRows, long ExistingRows, long DeletedRows,
        List<FieldSummary>? Partitions, bool CountsMissing = false)
    {
        /// <summary>The manifest may list ADDED or EXISTING files (a missing count "is assumed to be non-zero", the spec says).</summary>
        public bool MayHaveLiveFiles => AddedFiles != 0 || ExistingFiles != 0 || CountsMissing;
    }

    public sealed record FieldSummary(bool ContainsNull, bool? ContainsNan, byte[]? Lower, byte[]? Upper);

    /// <summary>A manifest of the files one snapshot adds (status ADDED; snapshot id and sequence numbers inherited).</summary>
    public static byte[] WriteManifest(IReadOnlyList<DataFileFacts> files, Func<string, string> uriOf, PartitionField? partition,
        JsonObject schemaWithId, JsonArray specFields, int specId) =>
        WriteEntries([.. files.Select(ManifestEntry.Added)], uriOf, partition, schemaWithId, specFields, specId);

    /// <summary>
    /// A manifest's entries with their own status, snapshot id and sequence numbers (null: inherited from the manifest
    /// list, which the spec allows only for ADDED entries): a rewritten manifest keeps EXISTING entries and marks the
    /// files a snapshot removes as DELETED.
    /// </summary>
    public static byte[] WriteEntries(IReadOnlyList<ManifestEntry> entries, Func<string, string> uriOf, PartitionField? partition,
        JsonObject schemaWithId, JsonArray specFields, int specId)
    {
        var w = new AvroWriter();
        foreach (var e in entries)
        {
            var f = e.File;
            w.Record();
            w.Int(e.Status);
            Optional(w, e.SnapshotId);
            Optional(w, e.SequenceNumber);
            Optional(w, e.FileSequenceNumber);
            w.Int(0);              // content: DATA
            w.String(uriOf(f.Key));
            w.String("PARQUET");
            if (partition is not null)
            {
                w.Union(f.PartitionDate is not null);
                if (f.PartitionDate is { } date) w.Int(DaysSinceEpoch(date));
            }
            w.Long(f.Records);
            w.Long(f.Bytes);
            var withId = f.Columns.Where(c => c.FieldId >= 0).ToList();
            Map(w, withId, c => true, (w, c) => w.Long(c.Size));
            Map(w, withId, c => true, (w, c) => w.Long(c.Values));
            Map(w, withId, c => c.Nulls is not null, (w, c) => w.Long(c.Nulls!.Value));
            Map(w, withId, c => c.Lower is not null, (w, c) => w.Bytes(c.Lower));
            Map(w, withId, c => c.Upper is not null, (w, c) => w.Bytes(c.Upper));
        }
        return w.ToContainer(EntrySchema(partition), new Dictionary<string, string>
        {
            ["schema"] = schemaWithId.ToJsonString(),
            ["schema-id"] = schemaWithId["schema-id"]!.ToJsonString(),
            ["partition-spec"] = specFields.ToJsonString(),
            ["partition-spec-id"] = specId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["format-version"] = FormatVersion,
            ["content"] = "data",
        });
    }

    private static void Optional(AvroWriter w, long? value)
    {
        w.Union(value is not null);
        if (value is { } v) w.Long(v);
    }

    /// <summary>One manifest entry: status (0 EXISTING, 1 ADDED, 2 DELETED), its snapshot and sequence numbers, and the file.</summary>
    public sealed record ManifestEntry(int Status, long? SnapshotId, long? SequenceNumber, long? FileSequenceNumber, DataFileFacts File)
    {
        public const int Existing = 0;
        public const int AddedStatus = 1;
        public const int Deleted = 2;

        public static ManifestEntry Added(DataFileFacts file) => new(AddedStatus, null, null, null, file);
    }

    /// <summary>
    /// A manifest's entries back as <see cref="ManifestEntry"/>s (the file's key is its URI as written; column names are
    /// not in manifests and stay empty). Inherited snapshot ids and sequence numbers are resolved from the manifest's
    /// list row, so an entry can be written again as EXISTING or DELETED in another manifest.
    /// </summary>
    public static List<ManifestEntry> ReadEntries(ReadOnlySpan<byte> manifest, ListEntry listed, string what)
    {
        var container = AvroReader.Read(manifest, what);
        var result = new List<ManifestEntry>();
        foreach (var o in container.Records)
        {
            var entry = (Dictionary<string, object?>)o!;
            var file = (Dictionary<string, object?>)entry["data_file"]!;
            if (file.GetValueOrDefault("content") is int content && content != 0)
                throw new InvalidDataException($"{what} lists a delete file ({file["file_path"]}); compaction of tables with delete files is not supported");
            DateOnly? partitionDate = null;
            if (file.GetValueOrDefault("partition") is Dictionary<string, object?> { Count: > 0 } partition && partition.Values.First() is int days)
                partitionDate = DateOnly.FromDayNumber(DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber + days);
            var columns = new SortedDictionary<int, ColumnFacts>();
            ColumnFacts Column(int id) => columns.TryGetValue(id, out var c) ? c : columns[id] = new ColumnFacts { FieldId = id };
            foreach (var (k, v) in MapOf(file, "column_sizes")) Column(k).Size = (long)v!;
            foreach (var (k, v) in MapOf(file, "value_counts")) Column(k).Values = (long)v!;
            foreach (var (k, v) in MapOf(file, "null_value_counts")) Column(k).Nulls = (long)v!;
            foreach (var (k, v) in MapOf(file, "lower_bounds")) Column(k).Lower = (byte[])v!;
            foreach (var (k, v) in MapOf(file, "upper_bounds")) Column(k).Upper = (byte[])v!;
            var status = (int)entry["status"]!;
            var sequence = entry.GetValueOrDefault("sequence_number") as long?;
            result.Add(new ManifestEntry(
                status,
                entry.GetValueOrDefault("snapshot_id") as long? ?? listed.AddedSnapshotId,
                sequence ?? listed.SequenceNumber,
                entry.GetValueOrDefault("file_sequence_number") as long? ?? sequence ?? listed.SequenceNumber,
                new DataFileFacts
                {
                    Key = (string)file["file_path"]!,
                    Bytes = (long)file["file_size_in_bytes"]!,
                    Records = (long)file["record_count"]!,
                    PartitionDate = partitionDate,
                    Columns = [.. columns.Values],
                }));
        }
        return result;
    }

    private static IEnumerable<(int Key, object? Value)> MapOf(Dictionary<string, object?> file, string name) =>
        file.GetValueOrDefault(name) is List<object?> pairs
            ? pairs.Select(p => (Dictionary<string, object?>)p!).Select(p => ((int)p["key"]!, p["value"]))
            : [];

    private static void Map(AvroWriter w, List<ColumnFacts> columns, Func<ColumnFacts, bool> has, Action<AvroWriter, ColumnFacts> value)
    {
        var present = columns.Where(has).ToList();
        w.Union(true);
        w.Array(present, (w, c) =>
        {
            w.Int(c.FieldId);
            value(w, c);
        });
    }

    public static int DaysSinceEpoch(DateOnly date) => date.DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;

    public static byte[] WriteList(IReadOnlyList<ListEntry> entries, long snapshotId, long? parentId, long sequenceNumber)
    {
        var w = new AvroWriter();
        foreach (var e in entries)
        {
            w.Record();
            w.String(e.Path);
            w.Long(e.Length);
            w.Int(e.SpecId);
            w.Int(e.Content);
            w.Long(e.SequenceNumber);
            w.Long(e.MinSequenceNumber);
            w.Long(e.AddedSnapshotId);
            w.Int(e.AddedFiles);
            w.Int(e.ExistingFiles);
            w.Int(e.DeletedFiles);
            w.Long(e.AddedRows);
            w.Long(e.ExistingRows);
            w.Long(e.DeletedRows);
            w.Union(e.Partitions is not null);
            if (e.Partitions is not null)
                w.Array(e.Partitions, (w, p) =>
                {
                    w.Bool(p.ContainsNull);
                    w.Union(p.ContainsNan is not null);
                    if (p.ContainsNan is { } nan) w.Bool(nan);
                    w.Union(p.Lower is not null);
                    if (p.Lower is not null) w.Bytes(p.Lower);
                    w.Union(p.Upper is not null);
                    if (p.Upper is not null) w.Bytes(p.Upper);
                });
        }
        var metadata = new Dictionary<string, string>
        {
            ["snapshot-id"] = snapshotId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["sequence-number"] = sequenceNumber.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["format-version"] = FormatVersion,
        };
        metadata["parent-snapshot-id"] = parentId is { } p ? p.ToString(System.Globalization.CultureInfo.InvariantCulture) : "null";
        return w.ToContainer(ListSchema, metadata);
    }

    /// <summary>Reads a manifest list (ours or another writer's) back into rows, to carry them into the next snapshot.</summary>
    public static List<ListEntry> ReadList(ReadOnlySpan<byte> file, string what)
    {
        var container = AvroReader.Read(file, what);
        var result = new List<ListEntry>();
        foreach (var o in container.Records)
        {
            var r = (Dictionary<string, object?>)o!;
            List<FieldSummary>? partitions = null;
            if (r.GetValueOrDefault("partitions") is List<object?> ps)
                partitions = ps.Select(p => (Dictionary<string, object?>)p!).Select(p => new FieldSummary(
                    (bool)p["contains_null"]!, p.GetValueOrDefault("contains_nan") as bool?, p.GetValueOrDefault("lower_bound") as byte[], p.GetValueOrDefault("upper_bound") as byte[])).ToList();
            result.Add(new ListEntry(
                (string)r["manifest_path"]!, (long)r["manifest_length"]!, (int)r["partition_spec_id"]!,
                r.GetValueOrDefault("content") as int? ?? 0,
                r.GetValueOrDefault("sequence_number") as long? ?? 0, r.GetValueOrDefault("min_sequence_number") as long? ?? 0,
                (long)r["added_snapshot_id"]!,
                Int(r, "added_files_count", "added_data_files_count"), Int(r, "existing_files_count", "existing_data_files_count"), Int(r, "deleted_files_count", "deleted_data_files_count"),
                r.GetValueOrDefault("added_rows_count") as long? ?? 0, r.GetValueOrDefault("existing_rows_count") as long? ?? 0, r.GetValueOrDefault("deleted_rows_count") as long? ?? 0,
                partitions,
                CountsMissing: Int(r, "added_files_count", "added_data_files_count", -1) < 0 || Int(r, "existing_files_count", "existing_data_files_count", -1) < 0));
        }
        return result;
    }

    private static int Int(Dictionary<string, object?> r, string name, string v1Name, int missing = 0) =>
        r.GetValueOrDefault(name) as int? ?? r.GetValueOrDefault(v1Name) as int? ?? missing;

    /// <summary>The data-file paths of a manifest's live entries (status ADDED or EXISTING), for maintenance.</summary>
    public static List<string> LiveFilePaths(ReadOnlySpan<byte> manifest, string what)
    {
        var container = AvroReader.Read(manifest, what);
        var result = new List<string>();
        foreach (var o in container.Records)
        {
            var entry = (Dictionary<string, object?>)o!;
            if ((int)entry["status"]! == 2) continue;
            result.Add((string)((Dictionary<string, object?>)entry["data_file"]!)["file_path"]!);
        }
        return result;
    }
}

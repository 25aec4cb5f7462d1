using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Storage;
using Microsoft.Extensions.FileSystemGlobbing;
using ParquetSharp;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// The built-in <c>parquet</c> tap: reads Parquet files back as records, for raw -> curated pipelines. Config:
/// <c>{"files": [...] | "path": "dir, file or bucket folder such as s3://lake/raw/csv/orders/",
/// "streams": [{"name", "pattern", "key_properties"}]}</c>. A folder stands for every <c>.parquet</c> file below it.
/// Unclaimed files form one stream per table folder: the nearest folder that is not a <c>key=value</c> partition
/// (so a lake table <c>orders/dt=…/orders_0000.parquet</c> is stream <c>orders</c>, and Spark's
/// <c>orders/part-00000-….snappy.parquet</c> too); a loose file is named after itself (see <see cref="TableName"/>).
/// The schema comes from the Parquet schema (with a partitioned Delta table's partition columns, which only its log
/// holds: <see cref="DeltaPartitionShape"/>); a file with a different schema starts with a new SCHEMA message.
/// Incremental by files already read (state lists them with modification time and size).
/// </summary>
public sealed class ParquetTap(ObjectStoreFactory? stores = null) : IFileTap<ParquetTap.Settings, ParquetTap.StreamPlan>
{
    private const string TapName = "parquet";

    public string Name => TapName;

    ObjectStoreFactory IFileTap<Settings, StreamPlan>.Stores { get; } = stores ?? new ObjectStoreFactory();

    List<StreamPlan> IFileTap<Settings, StreamPlan>.Assign(Settings settings, List<SourceFile> files)
    {
        var plans = FileStreams.Assign(TapName, files, settings.Streams, name => new StreamPlan(name, null, null, [], []), file => { var t = TableOf(file); return (t.Name, t.Folder); });
        foreach (var plan in plans) HivePartitions.AddColumns(plan.Files, file => TableOf(file).Partitions);
        return plans;
    }

    /// <summary>The schema of the stream's first file (a later file with another schema starts a new SCHEMA when synced).</summary>
    async Task<JsonObject> IFileTap<Settings, StreamPlan>.CatalogSchemaAsync(Settings settings, StreamPlan stream, CancellationToken cancellationToken)
    {
        await using var local = await LocalCopyAsync(stream.Files[0], cancellationToken).ConfigureAwait(false);
        using var reader = Open(local.Path, stream.Files[0]);
        return Schema(ShapesOf(reader, stream.Files[0]));
    }

    Task<Func<SourceFile, Task>?> IFileTap<Settings, StreamPlan>.StartStreamAsync(Settings settings, StreamPlan stream, IReadOnlyList<SourceFile> toRead, TapCatalog selection,
        RecordSink sink, CancellationToken cancellationToken)
    {
        // Each file carries its own schema: a SCHEMA message goes out whenever it differs from the last one.
        string? lastSchema = null;
        RowWriter? rows = null;
        // The stream's columns so far, by name whatever its case, with the file that brought each: files of one table
        // whose columns differ only in case would land both spellings as columns readers take as one.
        var columns = new Dictionary<string, (string Name, string File)>(LookAlikeNames.Comparer);
        // NaN and the infinities inside a list or struct go as the strings a number column reads back as those doubles
        // (JSON text has no other form for them; the printed Singer output spells them bare, see SingerJsonSink).
        var scratch = new JsonValueWriter { NamedFloatsAsStrings = true };
        return Task.FromResult<Func<SourceFile, Task>?>(async file =>
        {
            await using var local = await LocalCopyAsync(file, cancellationToken).ConfigureAwait(false);
            using var reader = Open(local.Path, file);
            var all = ShapesOf(reader, file);
            foreach (var shape in all)
            {
                if (!columns.TryGetValue(shape.Name, out var seen)) columns[shape.Name] = (shape.Name, file.Location);
                else if (seen.Name != shape.Name)
                    throw new TapException($"{Name} tap: stream '{stream.Name}': column '{seen.Name}' of {seen.File} and column '{shape.Name}' of {file.Location}: " +
                        Parquet.ColumnSchema.CaseOnlyDifference(seen.Name, shape.Name) + "; configure a stream per spelling, or rename the columns");
            }
            // Only the columns the catalog selects (and the key columns) are read: the others' column chunks are never opened.
            var shapes = all.Where(s => selection.Extracts(stream.Name, s.Name, stream.KeyProperties)).ToList();
            if (shapes.Count == 0 && all.Count > 0)
                throw new TapException($"{Name} tap: stream '{stream.Name}': the catalog selects none of the columns of {file.Location} ({string.Join(", ", all.Select(s => s.Name))}): select at least one");
            var schema = Schema(shapes);
            var schemaText = schema.ToJsonString();
            if (rows is null || schemaText != lastSchema)
            {
                foreach (var key in stream.KeyProperties)
                    if (schema["properties"]![key] is null)
                        throw new TapException($"{Name} tap: stream '{stream.Name}' names key property '{key}', which {file.Location} does not have");
                rows = sink.WriteSchema(stream.Name, schema, stream.KeyProperties);
                lastSchema = schemaText;
            }
            await EmitAsync(stream.Name, reader, shapes, file, rows, scratch, sink, cancellationToken).ConfigureAwait(false);
        });
    }

    private static async Task EmitAsync(string stream, ParquetFileReader reader, List<ParquetShape> shapes, SourceFile file, RowWriter rows, JsonValueWriter scratch, RecordSink sink,
        CancellationToken cancellationToken)
    {
        var metadata = reader.FileMetaData;
        var subMicrosecond = new long[metadata.NumColumns];
        // The leaf columns of the shapes sent; a column the catalog leaves out is not read.
        var read = shapes.SelectMany(s => s.Leaves).Distinct().Order().ToList();
        // A value the lake refuses is named by the file, row group and row it came from: a Parquet file has no lines.
        var at = new RowPosition(file.Location);
        sink.RowOrigin = at.ToString;
        try
        {
            for (var g = 0; g < metadata.NumRowGroups; g++)
            {
                using var rowGroup = reader.RowGroup(g);
                var count = rowGroup.MetaData.NumRows;
                var cursors = new ParquetLeafCursor[metadata.NumColumns];
                at.RowGroup = g;
                try
                {
                    foreach (var c in read)
                        cursors[c] = ParquetLeafCursor.Create(rowGroup.Column(c), metadata.Schema.Column(c));
                    for (long row = 0; row < count; row++)
                    {
                        at.Row = row;
                        WriteRow(shapes, cursors, rows, scratch, file, g, row);
                        if ((row & 1023) == 0) cancellationToken.ThrowIfCancellationRequested();
                        await sink.FlushIfFullAsync(cancellationToken).ConfigureAwait(false);
                    }
                    foreach (var c in read) subMicrosecond[c] += cursors[c].SubMicrosecondValues;
                }
                catch (ParquetException e)
                {
                    // Opening a column chunk: its metadata or first page is damaged.
                    throw new TapException($"{TapName} tap: {file.Location} row group {g}: {ParquetFailure.Reason(e)}", e);
                }
                finally
                {
                    foreach (var cursor in cursors) cursor?.Dispose();
                }
            }
        }
        finally
        {
            sink.RowOrigin = null;
        }
        for (var c = 0; c < subMicrosecond.Length; c++)
        {
            if (subMicrosecond[c] == 0) continue;
            using var path = metadata.Schema.Column(c).Path;
            sink.WriteNotice(Parquet.TemporalParser.CutToMicrosecondNotice(stream, file.Location, path.ToDotString(), subMicrosecond[c]));
        }
    }

    /// <summary>The row being read, as an error names it.</summary>
    private sealed class RowPosition(string location)
    {
        public int RowGroup;
        public long Row;

        public override string ToString() => $"{location} row group {RowGroup} row {Row}";
    }

    /// <summary>One row; a shape's index is its property index (<see cref="Schema"/> lists the shapes in order).</summary>
    private static void WriteRow(List<ParquetShape> shapes, ParquetLeafCursor[] cursors, RowWriter rows, JsonValueWriter scratch, SourceFile file, int rowGroup, long row)
    {
        rows.BeginRow();
        for (var i = 0; i < shapes.Count; i++)
        {
            try
            {
                shapes[i].Write(rows, i, cursors, scratch);
            }
            catch (Exception e) when (ParquetFailure.IsUnreadable(e))
            {
                throw new TapException($"{TapName} tap: {file.Location} row group {rowGroup} row {row} column '{shapes[i].Name}': {ParquetFailure.Reason(e)}", e);
            }
        }
        rows.EndRow();
    }

    /// <summary>
    /// Each row of a local Parquet file as a JSON record object (the values the tap would send), for BATCH messages whose
    /// files are Parquet; errors name the file, row group, row and column.
    /// </summary>
    internal static async Task ForEachRecordAsync(SourceFile file, Singer.BatchRecordHandler onRecord, CancellationToken cancellationToken)
    {
        await using var copy = await LocalCopyAsync(file, cancellationToken).ConfigureAwait(false);
        using (Open(copy.Path, file)) { } // a file that is not Parquet fails here, with the tap's message
        try
        {
            ParquetRows.ForEach(copy.Path, null, null, (json, row) => onRecord(json, row + 1), file.Location, cancellationToken, namedFloatsAsStrings: true);
        }
        catch (InvalidDataException e)
        {
            throw new TapException(e.Message, e);
        }
    }

    /// <summary>The file's columns, and a partitioned Delta table's partition columns the file does not hold (<see cref="DeltaPartitionShape"/>).</summary>
    private static List<ParquetShape> ShapesOf(ParquetFileReader reader, SourceFile file) =>
        DeltaPartitionShape.WithPartitionColumns(ParquetShape.Of(reader.FileMetaData.Schema), file);

    private static JsonObject Schema(List<ParquetShape> shapes)
    {
        var properties = new JsonObject();
        foreach (var s in shapes) properties[s.Name] = s.Schema();
        return new JsonObject { ["type"] = "object", ["properties"] = properties };
    }

    private static ParquetFileReader Open(string path, SourceFile file)
    {
        try
        {
            return new ParquetFileReader(path);
        }
        catch (ParquetException e)
        {
            throw new TapException($"{TapName} tap: {file.Location} is not a readable Parquet file: {ParquetFailure.LibraryMessage(e)}", e);
        }
    }

    /// <summary>
    /// The stream of an unclaimed file: its table folder (the nearest folder that is not a <c>key=value</c> partition)
    /// when the file is a part of a table (below a partition folder, named after the folder as the lake's own
    /// <c>orders_0000.parquet</c>, or named as writers name the parts of one table, see <see cref="IsPartFileName"/>);
    /// otherwise the file is a table of its own, named after itself (<c>/data/orders.parquet</c> and
    /// <c>/data/customers.parquet</c> are two streams).
    /// </summary>
    internal static string TableName(SourceFile file) => TableOf(file).Name;

    /// <summary>
    /// <see cref="TableName"/> with the table's location (its folder, or the file when it is a table of its own: files
    /// share a stream only when they share it) and the <c>key=value</c> folders between the table folder and the file,
    /// outermost first: Hive-style partitions (<see cref="HivePartitions"/>), except the lake's own <c>dt=</c> folder of
    /// extraction dates (a lake data file directly below it), which is not a column of the table.
    /// </summary>
    private static (string Name, string Folder, string[] Partitions) TableOf(SourceFile file)
    {
        var parts = file.Location.Split('/');
        var folders = parts[..^1];
        var i = folders.Length - 1;
        while (i >= 0 && folders[i].Contains('=')) i--;
        var partitions = folders[(i + 1)..];
        if (i < 0 || folders[i].Length == 0) return (file.BaseName, file.Location, partitions);
        var folder = folders[i];
        var partitioned = partitions.Length > 0;
        if (partitions is [.., var last] && last.StartsWith("dt=", StringComparison.Ordinal) && LakePaths.DataFileIndex(folder, file.FileName) >= 0)
            partitions = partitions[..^1];
        var isPart = partitioned || file.BaseName.StartsWith(folder, StringComparison.Ordinal) || LakePaths.DataFileIndex(folder, file.FileName) >= 0 || IsPartFileName(file.FileName);
        return isPart ? (folder, string.Join('/', parts[..(i + 1)]), partitions) : (file.BaseName, file.Location, partitions);
    }

    /// <summary>
    /// Whether a file name is one a writer gives the parts of one table, which says nothing of the table itself: Spark,
    /// Delta and pyarrow's <c>part-00000-…snappy.parquet</c> / <c>part-0.parquet</c>, DuckDB's <c>data_0.parquet</c>
    /// (<c>PER_THREAD_OUTPUT</c>, <c>FILE_SIZE_BYTES</c>) and a bare <c>data.parquet</c>, Snowflake's
    /// <c>data_0_0_0.snappy.parquet</c>, names that start with a number (Hive's <c>000000_0</c>, Iceberg's
    /// <c>00000-0-&lt;uuid&gt;.parquet</c>, Polars' <c>00000000.parquet</c>) or with a UUID (pyarrow's <c>&lt;uuid&gt;-0.parquet</c>).
    /// </summary>
    internal static bool IsPartFileName(string fileName) => PartFileName.IsMatch(fileName);

    private static readonly System.Text.RegularExpressions.Regex PartFileName = new(
        @"^(?:(?:part|data)(?:[-_]\d[^.]*)?|\d[^.]*|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}[^.]*)(?:\.[a-z0-9]+)*$",
        System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    internal sealed record StreamPlan(string Name, Matcher? Pattern, string? PatternText, IReadOnlyList<string> KeyProperties, List<SourceFile> Files) : IFileStream;

    internal sealed record Settings(List<string> Entries, List<StreamPlan> Streams, Dictionary<string, string> StorageOptions)
        : IFileTapSettings<Settings, StreamPlan>
    {
        public static IReadOnlyList<string> FolderPatterns { get; } = ["**/*.parquet"];

        /// <summary>A lake table folder written with <c>table_format</c> holds replaced files and Delta checkpoints too: read its live files.</summary>
        public static bool ReadsLakeTables => true;

        public static Settings From(JsonObject json)
        {
            var config = new TapConfig(TapName, json).OnlyKeys(FileStreams.ConfigKeys);
            var streams = FileStreams.Configured(TapName, config, FileStreams.StreamKeys, (stream, _, name, matcher, pattern) => new StreamPlan(name, matcher, pattern, stream.Strings("key_properties"), []));
            return new Settings(FileStreams.Entries(TapName, config), streams, config.StringMap("storage_options"));
        }
    }

    /// <summary>A local path for a file: itself when local, else a scratch copy (Parquet needs random access).</summary>
    private static async Task<LocalFilePath> LocalCopyAsync(SourceFile file, CancellationToken cancellationToken)
    {
        if (file.IsLocal) return LocalFilePath.Existing(file.Location);
        await using var source = await file.Open(cancellationToken).ConfigureAwait(false);
        return await LocalFilePath.ScratchAsync("parquet", ".parquet", target => source.CopyToAsync(target, cancellationToken)).ConfigureAwait(false);
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Storage;
using Microsoft.Extensions.FileSystemGlobbing;
using ParquetSharp;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// The built-in <c>parquet</c> tap: reads Parquet files back as records, for raw -> curated pipelines. Config:
/// <c>{"files": [...] | "path": "dir, file or bucket folder such as s3://lake/raw/csv/orders/",
/// "streams": [{"name", "pattern", "key_properties"}]}</c>. A folder stands for every <c>.parquet</c> file below it.
/// Unclaimed files form one stream per table folder: the nearest folder that is not a <c>key=value</c> partition
/// (so a lake table <c>orders/dt=…/orders_0000.parquet</c> is stream <c>orders</c>); a loose file is named after itself.
/// The schema comes from the Parquet schema; a file with a different schema starts with a new SCHEMA message.
/// Incremental by files already read (state lists them with modification time and size).
/// </summary>
public sealed class ParquetTap(ObjectStoreFactory? stores = null) : ITypedBuiltInTap
{
    private const string TapName = "parquet";
    private static readonly string[] FolderPatterns = ["**/*.parquet"];
    private readonly ObjectStoreFactory _stores = stores ?? new ObjectStoreFactory();

    public string Name => TapName;

    public async Task DiscoverAsync(JsonObject config, Stream output, CancellationToken cancellationToken)
    {
        var settings = Settings.From(config);
        await using var files = new SourceFiles(Name, _stores, settings.StorageOptions);
        var entries = new List<JsonObject>();
        foreach (var stream in await PlanAsync(settings, files, cancellationToken).ConfigureAwait(false))
        {
            await using var local = await LocalCopy.OfAsync(stream.Files[0], cancellationToken).ConfigureAwait(false);
            using var reader = Open(local.Path, stream.Files[0]);
            var schema = Schema(ParquetShape.Of(reader.FileMetaData.Schema));
            entries.Add(TapCatalog.Entry(stream.Name, stream.Name, schema, stream.KeyProperties));
        }
        await TapCatalog.WriteAsync(entries, output, cancellationToken).ConfigureAwait(false);
    }

    public Task SyncAsync(JsonObject config, JsonObject? state, JsonObject? catalog, Stream output, CancellationToken cancellationToken)
        => this.SyncAsJsonAsync(config, state, catalog, output, cancellationToken);

    async Task ITypedBuiltInTap.SyncAsync(JsonObject config, JsonObject? state, JsonObject? catalog, RecordSink sink, CancellationToken cancellationToken)
    {
        var settings = Settings.From(config);
        await using var files = new SourceFiles(Name, _stores, settings.StorageOptions);
        await FileStreams.SyncAsync(await PlanAsync(settings, files, cancellationToken).ConfigureAwait(false), state, catalog, sink,
            (stream, _) =>
            {
                // Each file carries its own schema: a SCHEMA message goes out whenever it differs from the last one.
                string? lastSchema = null;
                RowWriter? rows = null;
                var scratch = new JsonValueWriter();
                return Task.FromResult<Func<SourceFile, Task>>(async file =>
                {
                    await using var local = await LocalCopy.OfAsync(file, cancellationToken).ConfigureAwait(false);
                    using var reader = Open(local.Path, file);
                    var shapes = ParquetShape.Of(reader.FileMetaData.Schema);
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
                    await EmitAsync(reader, shapes, file, rows, scratch, sink, cancellationToken).ConfigureAwait(false);
                });
            }, cancellationToken).ConfigureAwait(false);
    }

    private static async Task EmitAsync(ParquetFileReader reader, List<ParquetShape> shapes, SourceFile file, RowWriter rows, JsonValueWriter scratch, RecordSink sink, CancellationToken cancellationToken)
    {
        var metadata = reader.FileMetaData;
        for (var g = 0; g < metadata.NumRowGroups; g++)
        {
            using var rowGroup = reader.RowGroup(g);
            var count = rowGroup.MetaData.NumRows;
            var cursors = new ParquetLeafCursor[metadata.NumColumns];
            try
            {
                for (var c = 0; c < cursors.Length; c++)
                    cursors[c] = ParquetLeafCursor.Create(rowGroup.Column(c), metadata.Schema.Column(c));
                for (long row = 0; row < count; row++)
                {
                    WriteRow(shapes, cursors, rows, scratch, file, g, row);
                    if ((row & 1023) == 0) cancellationToken.ThrowIfCancellationRequested();
                    await sink.FlushIfFullAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                foreach (var cursor in cursors) cursor?.Dispose();
            }
        }
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
            catch (Exception e) when (e is OverflowException or InvalidDataException or JsonException or ArgumentException)
            {
                throw new TapException($"{TapName} tap: {file.Location} row group {rowGroup} row {row} column '{shapes[i].Name}': {e.Message}", e);
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
        await using var copy = await LocalCopy.OfAsync(file, cancellationToken).ConfigureAwait(false);
        using (Open(copy.Path, file)) { } // a file that is not Parquet fails here, with the tap's message
        try
        {
            ParquetRows.ForEach(copy.Path, null, null, (json, row) => onRecord(json, row + 1), file.Location, cancellationToken);
        }
        catch (InvalidDataException e)
        {
            throw new TapException(e.Message, e);
        }
    }

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
            throw new TapException($"{TapName} tap: {file.Location} is not a readable Parquet file: {e.Message}", e);
        }
    }

    /// <summary>The table folder a lake file belongs to: the nearest folder that is not a <c>key=value</c> partition.</summary>
    private static string TableName(SourceFile file)
    {
        var parts = file.Location.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var folders = parts[..^1];
        var i = folders.Length - 1;
        while (i >= 0 && folders[i].Contains('=')) i--;
        if (i < 0) return file.BaseName;
        var folder = folders[i];
        var partitioned = i < folders.Length - 1;
        return partitioned || file.BaseName.StartsWith(folder, StringComparison.Ordinal) ? folder : file.BaseName;
    }

    private static async Task<List<StreamPlan>> PlanAsync(Settings settings, SourceFiles files, CancellationToken cancellationToken)
    {
        var all = await files.ResolveAsync(settings.Entries, FolderPatterns, cancellationToken).ConfigureAwait(false);
        return FileStreams.Assign(TapName, all, settings.Streams, name => new StreamPlan(name, null, null, [], []), TableName, shareOwnStreams: true);
    }

    private sealed record StreamPlan(string Name, Matcher? Pattern, string? PatternText, IReadOnlyList<string> KeyProperties, List<SourceFile> Files) : IFileStream;

    private sealed record Settings(List<string> Entries, List<StreamPlan> Streams, Dictionary<string, string> StorageOptions)
    {
        public static Settings From(JsonObject json)
        {
            var config = new TapConfig(TapName, json);
            var streams = FileStreams.Configured(TapName, config, (stream, _, name, matcher, pattern) => new StreamPlan(name, matcher, pattern, stream.Strings("key_properties"), []));
            return new Settings(FileStreams.Entries(TapName, config), streams, config.StringMap("storage_options"));
        }
    }

    /// <summary>A local path for a file: itself when local, else a temp copy (Parquet needs random access), deleted on dispose.</summary>
    private sealed class LocalCopy : IAsyncDisposable
    {
        private readonly bool _temporary;

        private LocalCopy(string path, bool temporary)
        {
            Path = path;
            _temporary = temporary;
        }

        public string Path { get; }

        public static async Task<LocalCopy> OfAsync(SourceFile file, CancellationToken cancellationToken)
        {
            if (file.IsLocal) return new LocalCopy(file.Location, temporary: false);
            var path = Lake.LakePaths.ScratchFile("parquet", ".parquet");
            try
            {
                await using var source = await file.Open(cancellationToken).ConfigureAwait(false);
                await using var target = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
                await source.CopyToAsync(target, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                File.Delete(path);
                throw;
            }
            return new LocalCopy(path, temporary: true);
        }

        public ValueTask DisposeAsync()
        {
            if (_temporary) File.Delete(Path);
            return ValueTask.CompletedTask;
        }
    }
}

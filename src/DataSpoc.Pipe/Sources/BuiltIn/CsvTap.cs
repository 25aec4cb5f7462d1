using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Storage;
using Microsoft.Extensions.FileSystemGlobbing;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// The built-in <c>csv</c> tap. Config:
/// <c>{"files": ["data/*.csv", "s3://bucket/in/*.csv"] | "path": "dir-or-file", "delimiter": ",", "quote": "\"",
/// "escape": "\\", "skip_rows": 0, "comment": "#", "encoding": "utf-8", "header": true, "sample_rows": 20480,
/// "streams": [{"name", "pattern", "key_properties", "types": {"col": "integer|number|boolean|date|date-time|string"}}]}</c>.
/// Each file goes to the first stream whose pattern matches its name (or, with a <c>/</c>, its location);
/// other files become a stream each, named after the file. Incremental by file modification time and size.
/// </summary>
public sealed class CsvTap(ObjectStoreFactory? stores = null) : IFileTap<CsvTap.Settings, CsvTap.StreamPlan>
{
    private const string TapName = "csv";

    public string Name => TapName;

    ObjectStoreFactory IFileTap<Settings, StreamPlan>.Stores { get; } = stores ?? new ObjectStoreFactory();

    List<StreamPlan> IFileTap<Settings, StreamPlan>.Assign(Settings settings, List<SourceFile> files)
        => FileStreams.Assign(TapName, files, settings.Streams, name => new StreamPlan(name, null, null, [], new Dictionary<string, TextColumnType>(), []));

    async Task<JsonObject> IFileTap<Settings, StreamPlan>.CatalogSchemaAsync(Settings settings, StreamPlan stream, CancellationToken cancellationToken)
        => CsvTable.Schema(await ColumnsAsync(settings, stream, stream.Files, cancellationToken).ConfigureAwait(false));

    async Task<Func<SourceFile, Task>?> IFileTap<Settings, StreamPlan>.StartStreamAsync(Settings settings, StreamPlan stream, IReadOnlyList<SourceFile> toRead, TapCatalog selection,
        RecordSink sink, CancellationToken cancellationToken)
    {
        var all = await ColumnsAsync(settings, stream, toRead, cancellationToken, notice => sink.WriteNotice($"stream '{stream.Name}': {notice}")).ConfigureAwait(false);
        if (all.Count == 0) return null; // empty files only: not even a header
        var columns = settings.Table.Extracted(all, stream.Name, stream.KeyProperties, selection);
        var leftOut = all.Except(columns).Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        var rows = sink.WriteSchema(stream.Name, CsvTable.Schema(columns), stream.KeyProperties);
        return file => settings.Table.EmitAsync(stream.Name, file, rows, columns, sink, cancellationToken, leftOut);
    }

    /// <summary>The columns inferred from <paramref name="files"/> (declared types win), checked against the key properties.</summary>
    private async Task<List<TextColumn>> ColumnsAsync(Settings settings, StreamPlan stream, IReadOnlyList<SourceFile> files, CancellationToken cancellationToken,
        Action<string>? notice = null)
    {
        var columns = await settings.Table.InferAsync(files, stream.Types, cancellationToken, notice).ConfigureAwait(false);
        if (columns.Count > 0) CheckKeys(stream, columns);
        return columns;
    }

    private void CheckKeys(StreamPlan stream, List<TextColumn> columns)
    {
        foreach (var key in stream.KeyProperties)
            if (columns.All(c => c.Name != key))
                throw new TapException($"{Name} tap: stream '{stream.Name}' names key property '{key}', which is not a column (columns: {string.Join(", ", columns.Select(c => c.Name))})");
    }

    internal sealed record StreamPlan(string Name, Matcher? Pattern, string? PatternText, IReadOnlyList<string> KeyProperties,
        IReadOnlyDictionary<string, TextColumnType> Types, List<SourceFile> Files) : IFileStream;

    internal sealed record Settings(List<string> Entries, CsvTable Table, List<StreamPlan> Streams, Dictionary<string, string> StorageOptions)
        : IFileTapSettings<Settings, StreamPlan>
    {
        public static IReadOnlyList<string> FolderPatterns { get; } = ["*.csv", "*.csv.gz"];

        private static readonly string[] ConfigKeys = [.. FileStreams.ConfigKeys, "sample_rows", .. CsvFormat.ConfigKeys];

        private static readonly string[] StreamKeys = [.. FileStreams.StreamKeys, "types"];

        public static Settings From(JsonObject json)
        {
            var config = new TapConfig(TapName, json).OnlyKeys(ConfigKeys);
            var entries = FileStreams.Entries(TapName, config);
            var sampleRows = FileStreams.SampleRows(config);
            var streams = FileStreams.Configured(TapName, config, StreamKeys, (stream, where, name, matcher, pattern) =>
            {
                var types = new Dictionary<string, TextColumnType>(StringComparer.Ordinal);
                if (stream.Object("types") is { } declared)
                    foreach (var (column, type) in declared)
                    {
                        if (type is not JsonValue v || v.GetValueKind() != JsonValueKind.String) throw stream.Wrong($"{where}.types.{column}", "a type name");
                        types[column] = TextColumnTypes.Parse(v.GetValue<string>(), $"{TapName} tap: config key '{where}.types.{column}'");
                    }
                return new StreamPlan(name, matcher, pattern, stream.Strings("key_properties"), types, []);
            });
            return new Settings(entries, new CsvTable(TapName, CsvFormat.From(config, TapName), sampleRows), streams, config.StringMap("storage_options"));
        }
    }
}

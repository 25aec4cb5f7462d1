using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Storage;
using Microsoft.Extensions.FileSystemGlobbing;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// The built-in <c>csv</c> tap. Config:
/// <c>{"files": ["data/*.csv", "s3://bucket/in/*.csv"] | "path": "dir-or-file", "delimiter": ",", "quote": "\"",
/// "encoding": "utf-8", "header": true, "sample_rows": 1000,
/// "streams": [{"name", "pattern", "key_properties", "types": {"col": "integer|number|boolean|date|date-time|string"}}]}</c>.
/// Each file goes to the first stream whose pattern matches its name (or, with a <c>/</c>, its location);
/// other files become a stream each, named after the file. Incremental by file modification time and size.
/// </summary>
public sealed class CsvTap(ObjectStoreFactory? stores = null) : ITypedBuiltInTap
{
    private const string TapName = "csv";
    private static readonly string[] FolderPatterns = ["*.csv", "*.csv.gz"];
    private readonly ObjectStoreFactory _stores = stores ?? new ObjectStoreFactory();

    public string Name => TapName;

    public async Task DiscoverAsync(JsonObject config, Stream output, CancellationToken cancellationToken)
    {
        var settings = Settings.From(config);
        await using var files = new SourceFiles(Name, _stores, settings.StorageOptions);
        var streams = await PlanAsync(settings, files, cancellationToken).ConfigureAwait(false);
        var entries = new List<JsonObject>();
        foreach (var stream in streams)
        {
            var columns = await settings.Table.InferAsync(stream.Files, stream.Types, cancellationToken).ConfigureAwait(false);
            CheckKeys(stream, columns);
            entries.Add(TapCatalog.Entry(stream.Name, stream.Name, CsvTable.Schema(columns), stream.KeyProperties));
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
            async (stream, toRead) =>
            {
                var columns = await settings.Table.InferAsync(toRead, stream.Types, cancellationToken).ConfigureAwait(false);
                CheckKeys(stream, columns);
                var rows = sink.WriteSchema(stream.Name, CsvTable.Schema(columns), stream.KeyProperties);
                return file => settings.Table.EmitAsync(file, rows, columns, sink, cancellationToken);
            }, cancellationToken).ConfigureAwait(false);
    }

    private void CheckKeys(StreamPlan stream, List<TextColumn> columns)
    {
        foreach (var key in stream.KeyProperties)
            if (columns.All(c => c.Name != key))
                throw new TapException($"{Name} tap: stream '{stream.Name}' names key property '{key}', which is not a column (columns: {string.Join(", ", columns.Select(c => c.Name))})");
    }

    /// <summary>Resolves the files and assigns each to a stream.</summary>
    private static async Task<List<StreamPlan>> PlanAsync(Settings settings, SourceFiles files, CancellationToken cancellationToken)
    {
        var all = await files.ResolveAsync(settings.Entries, FolderPatterns, cancellationToken).ConfigureAwait(false);
        return FileStreams.Assign(TapName, all, settings.Streams, name => new StreamPlan(name, null, null, [], new Dictionary<string, TextColumnType>(), []));
    }

    private sealed record StreamPlan(string Name, Matcher? Pattern, string? PatternText, IReadOnlyList<string> KeyProperties,
        IReadOnlyDictionary<string, TextColumnType> Types, List<SourceFile> Files) : IFileStream;

    private sealed record Settings(List<string> Entries, CsvTable Table, List<StreamPlan> Streams, Dictionary<string, string> StorageOptions)
    {
        public static Settings From(JsonObject json)
        {
            var config = new TapConfig(TapName, json);
            var entries = FileStreams.Entries(TapName, config);
            var sampleRows = config.Int("sample_rows") ?? 1000;
            if (sampleRows < 1) throw config.Wrong("sample_rows", "at least 1");
            var streams = FileStreams.Configured(TapName, config, (stream, where, name, matcher, pattern) =>
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

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
public sealed class CsvTap(ObjectStoreFactory? stores = null) : IBuiltInTap
{
    private readonly ObjectStoreFactory _stores = stores ?? new ObjectStoreFactory();

    public string Name => "csv";

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

    public async Task SyncAsync(JsonObject config, JsonObject? state, JsonObject? catalog, Stream output, CancellationToken cancellationToken)
    {
        var settings = Settings.From(config);
        var selection = new TapCatalog(catalog);
        var bookmarks = new FileBookmarks(state);
        var writer = new SingerWriter(output);
        await using var files = new SourceFiles(Name, _stores, settings.StorageOptions);
        foreach (var stream in await PlanAsync(settings, files, cancellationToken).ConfigureAwait(false))
        {
            if (!selection.IsSelected(stream.Name)) continue;
            var toRead = stream.Files.Where(f => !bookmarks.IsUnchanged(stream.Name, f)).ToList();
            if (toRead.Count == 0) continue;
            var columns = await settings.Table.InferAsync(toRead, stream.Types, cancellationToken).ConfigureAwait(false);
            CheckKeys(stream, columns);
            writer.WriteSchema(stream.Name, CsvTable.Schema(columns), stream.KeyProperties);
            var streamName = JsonEncodedText.Encode(stream.Name);
            foreach (var file in toRead)
            {
                await settings.Table.EmitAsync(file, streamName, columns, writer, cancellationToken).ConfigureAwait(false);
                bookmarks.MarkRead(stream.Name, file);
                writer.WriteState(bookmarks.State);
                await writer.FlushIfFullAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        writer.WriteState(bookmarks.State);
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private void CheckKeys(StreamPlan stream, List<TextColumn> columns)
    {
        foreach (var key in stream.KeyProperties)
            if (columns.All(c => c.Name != key))
                throw new TapException($"{Name} tap: stream '{stream.Name}' names key property '{key}', which is not a column (columns: {string.Join(", ", columns.Select(c => c.Name))})");
    }

    /// <summary>Resolves the files and assigns each to a stream.</summary>
    private async Task<List<StreamPlan>> PlanAsync(Settings settings, SourceFiles files, CancellationToken cancellationToken)
    {
        var all = await files.ResolveAsync(settings.Entries, "*.csv", cancellationToken).ConfigureAwait(false);
        var plans = settings.Streams.Select(s => s with { Files = [] }).ToList();
        var byFile = new Dictionary<string, StreamPlan>(StringComparer.Ordinal);
        foreach (var file in all)
        {
            var plan = plans.FirstOrDefault(p => p.Matches(file));
            if (plan is null)
            {
                var name = file.BaseName;
                if (!byFile.TryGetValue(name, out plan))
                {
                    if (plans.Any(p => p.Name == name))
                        throw new TapException($"{Name} tap: file {file.Location} would be its own stream '{name}', which is also a configured stream name; give the configured stream a pattern that matches it");
                    byFile[name] = plan = new StreamPlan(name, null, [], new Dictionary<string, TextColumnType>(), []);
                }
                else
                {
                    throw new TapException($"{Name} tap: files {plan.Files[0].Location} and {file.Location} would both be stream '{name}'; configure a stream with a pattern for them");
                }
                plans.Add(plan);
            }
            plan.Files.Add(file);
        }
        return plans.Where(p => p.Files.Count > 0).ToList();
    }

    private sealed record StreamPlan(string Name, Matcher? Pattern, IReadOnlyList<string> KeyProperties, IReadOnlyDictionary<string, TextColumnType> Types, List<SourceFile> Files)
    {
        public string? PatternText { get; init; }

        public bool Matches(SourceFile file)
        {
            // A stream without a pattern takes the files named after it (orders.csv for stream orders).
            if (Pattern is null || PatternText is null) return file.BaseName == Name;
            var full = PatternText.Contains('/') ? file.Location : file.FileName;
            var match = Pattern.Match("/", ["/" + full.TrimStart('/')]);
            return match.HasMatches;
        }
    }

    private sealed record Settings(List<string> Entries, CsvTable Table, List<StreamPlan> Streams, Dictionary<string, string> StorageOptions)
    {
        public static Settings From(JsonObject json)
        {
            const string tap = "csv";
            var config = new TapConfig(tap, json);
            var entries = config.Strings("files");
            if (config.String("path") is { } path) entries.Add(path);
            if (entries.Count == 0) throw new TapException($"{tap} tap: config needs 'files' (paths or globs) or 'path' (a folder or file)");
            var sampleRows = config.Int("sample_rows") ?? 1000;
            if (sampleRows < 1) throw config.Wrong("sample_rows", "at least 1");
            var streams = new List<StreamPlan>();
            var list = config.Array("streams") ?? [];
            for (var i = 0; i < list.Count; i++)
            {
                var where = $"streams[{i}]";
                if (list[i] is not JsonObject s) throw config.Wrong(where, "an object");
                var stream = new TapConfig(tap, s);
                var name = stream.String("name") ?? throw new TapException($"{tap} tap: config key '{where}.name' is required");
                var pattern = stream.String("pattern");
                Matcher? matcher = null;
                if (pattern is not null)
                {
                    matcher = new Matcher(StringComparison.Ordinal);
                    matcher.AddInclude(pattern.TrimStart('/'));
                }
                var types = new Dictionary<string, TextColumnType>(StringComparer.Ordinal);
                if (stream.Object("types") is { } declared)
                    foreach (var (column, type) in declared)
                    {
                        if (type is not JsonValue v || v.GetValueKind() != JsonValueKind.String) throw config.Wrong($"{where}.types.{column}", "a type name");
                        types[column] = TextColumnTypes.Parse(v.GetValue<string>(), $"{tap} tap: config key '{where}.types.{column}'");
                    }
                if (streams.Any(p => p.Name == name)) throw new TapException($"{tap} tap: stream name '{name}' is configured twice");
                streams.Add(new StreamPlan(name, matcher, stream.Strings("key_properties"), types, []) { PatternText = pattern });
            }
            return new Settings(entries, new CsvTable(tap, CsvFormat.From(config, tap), sampleRows), streams, config.StringMap("storage_options"));
        }
    }
}

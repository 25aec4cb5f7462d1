using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Singer;
using DataSpoc.Pipe.Storage;
using Microsoft.Extensions.FileSystemGlobbing;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// The built-in <c>jsonl</c> tap: newline-delimited JSON objects, one record a line. Config:
/// <c>{"files": [...] | "path": "dir-or-file", "sample_rows": 20480,
/// "streams": [{"name", "pattern", "key_properties", "schema": {JSON Schema}}]}</c>.
/// Streams and incremental reading work as in the csv tap; without a declared schema one is inferred from a sample.
/// Records are handed over as written (their JSON text, not re-encoded).
/// </summary>
public sealed class JsonlTap(ObjectStoreFactory? stores = null) : IFileTap<JsonlTap.Settings, JsonlTap.StreamPlan>
{
    private const string TapName = "jsonl";

    /// <summary>Records are read as the engine reads a Singer message, so a column as deep as the lake allows (64 levels) is read.</summary>
    private static readonly JsonReaderOptions RecordOptions = new() { MaxDepth = SingerMessageReader.MaxDepth };

    public string Name => TapName;

    ObjectStoreFactory IFileTap<Settings, StreamPlan>.Stores { get; } = stores ?? new ObjectStoreFactory();

    List<StreamPlan> IFileTap<Settings, StreamPlan>.Assign(Settings settings, List<SourceFile> files)
        => FileStreams.Assign(TapName, files, settings.Streams, name => new StreamPlan(name, null, null, [], null, []));

    async Task<JsonObject> IFileTap<Settings, StreamPlan>.CatalogSchemaAsync(Settings settings, StreamPlan stream, CancellationToken cancellationToken)
        => (await SchemaAsync(stream, stream.Files, settings.SampleRows, cancellationToken).ConfigureAwait(false)).Schema
           ?? new JsonObject { ["type"] = "object", ["properties"] = new JsonObject() };

    async Task<Func<SourceFile, Task>?> IFileTap<Settings, StreamPlan>.StartStreamAsync(Settings settings, StreamPlan stream, IReadOnlyList<SourceFile> toRead, TapCatalog selection,
        RecordSink sink, CancellationToken cancellationToken)
    {
        var (inferred, sampled) = await SchemaAsync(stream, toRead, settings.SampleRows, cancellationToken).ConfigureAwait(false);
        if (inferred is not { } schema) return null;
        var leftOut = selection.Deselected(stream.Name).Where(name => !selection.Extracts(stream.Name, name, stream.KeyProperties)).ToHashSet(StringComparer.Ordinal);
        if (leftOut.Count > 0)
        {
            schema = schema.DeepClone().AsObject();
            var properties = (JsonObject)schema["properties"]!;
            var all = properties.Select(p => p.Key).ToList();
            foreach (var name in leftOut) properties.Remove(name);
            if (properties.Count == 0 && all.Count > 0)
                throw new TapException($"{TapName} tap: stream '{stream.Name}': the catalog selects none of its columns ({string.Join(", ", all)}): select at least one");
        }
        var rows = sink.WriteSchema(stream.Name, schema, stream.KeyProperties);
        return async file =>
        {
            await using var bytes = await file.OpenContentAsync(cancellationToken).ConfigureAwait(false);
            using var lines = new SingerLineReader(bytes, 1 << 16);
            // A value the lake refuses is named by its file and line, not by the line its RECORD message would have had.
            sink.RowOrigin = () => $"{file.Location} line {lines.LineNumber}";
            sink.RowFile = file.Location;
            try
            {
                // Records past a file's sample may hold keys the inferred schema lacks: checked, so none is dropped unseen.
                for (long n = 1; EmitNext(lines, file, rows, leftOut, n > settings.SampleRows ? sampled : null, settings.SampleRows); n++)
                    await sink.FlushIfFullAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                sink.RowOrigin = null;
                sink.RowFile = null;
            }
        };
    }

    /// <summary>
    /// The stream's declared schema, else the one its sampled records show; null when the files hold no record at all
    /// (records without properties still make a schema, which the engine refuses: rows are never dropped quietly).
    /// </summary>
    private static async Task<(JsonObject? Schema, JsonShape? Sampled)> SchemaAsync(StreamPlan stream, IReadOnlyList<SourceFile> files, int sampleRows,
        CancellationToken cancellationToken)
    {
        if (stream.Schema is not null) return (stream.Schema, null);
        var shape = new JsonShape();
        var sampled = 0;
        foreach (var file in files)
        {
            await using var bytes = await file.OpenContentAsync(cancellationToken).ConfigureAwait(false);
            using var lines = new SingerLineReader(bytes, 1 << 16);
            for (var n = 0; n < sampleRows && SampleNext(lines, file, shape); n++) sampled++;
        }
        if (sampled == 0) return (null, null); // empty files only: nothing to land
        var schema = shape.ToSchema();
        schema["type"] = "object";
        schema["properties"] ??= new JsonObject();
        foreach (var key in stream.KeyProperties)
            if (schema["properties"]![key] is null)
                throw new TapException($"{TapName} tap: stream '{stream.Name}' names key property '{key}', which no sampled record has");
        return (schema, shape);
    }

    private static bool SampleNext(SingerLineReader lines, SourceFile file, JsonShape shape)
    {
        if (!NextRecord(lines, file, out var line)) return false;
        try
        {
            try
            {
                var reader = new Utf8JsonReader(line, RecordOptions);
                reader.Read();
                shape.Add(ref reader);
            }
            catch (JsonException)
            {
                // Python's bare NaN / Infinity (NextRecord let the line through): sampled again with them quoted, as numbers.
                // What the first pass added of the line before the error is added again: flags and counts keep their meaning.
                var quoted = NamedFloatLiterals.Quote(line)!;
                var reader = new Utf8JsonReader(quoted.Line, RecordOptions);
                reader.Read();
                shape.Add(ref reader, quoted);
            }
        }
        catch (JsonShape.ValueException e)
        {
            throw new TapException($"{TapName} tap: {file.Location} line {lines.LineNumber}: {(e.Path.Length == 0 ? "" : $"key '{e.Path}': ")}{e.Message}", e);
        }
        return true;
    }

    /// <summary>
    /// Fails on a record past the sample with a key the inferred schema lacks: the lake has no column for it, so its
    /// values would be dropped (a record whose quoted NaN / Infinity cannot be parsed as it is is checked quoted).
    /// </summary>
    private static void CheckKeysSampled(ReadOnlySpan<byte> line, JsonShape sampled, SourceFile file, long lineNumber, int sampleRows)
    {
        string? unseen;
        try
        {
            unseen = UnseenKey(line, sampled);
        }
        catch (JsonException)
        {
            unseen = UnseenKey(NamedFloatLiterals.Quote(line)!.Line, sampled);
        }
        catch (JsonShape.ValueException e)
        {
            throw new TapException($"{TapName} tap: {file.Location} line {lineNumber}: {e.Message}", e);
        }
        if (unseen is not null)
            throw new TapException($"{TapName} tap: {file.Location} line {lineNumber}: key '{unseen}' is in none of the first {sampleRows} records of the file, " +
                "which the stream's schema was inferred from, so the lake has no column for it: raise sample_rows past this line, or declare the stream's schema");

        static string? UnseenKey(ReadOnlySpan<byte> line, JsonShape sampled)
        {
            var reader = new Utf8JsonReader(line, RecordOptions);
            reader.Read();
            return sampled.UnseenKey(ref reader);
        }
    }

    private static bool EmitNext(SingerLineReader lines, SourceFile file, RowWriter rows, IReadOnlySet<string> leftOut, JsonShape? checkKeys, int sampleRows)
    {
        if (!NextRecord(lines, file, out var line)) return false;
        if (checkKeys is not null) CheckKeysSampled(line, checkKeys, file, lines.LineNumber, sampleRows);
        if (leftOut.Count == 0) rows.WriteJsonRow(line);
        else rows.WriteJsonRow(Without(line, leftOut));
        return true;
    }

    /// <summary>
    /// A record line without its top-level properties named in <paramref name="leftOut"/> (the columns the catalog does
    /// not select), the others copied as written. A line with Python's bare NaN / Infinity has them quoted first, as the
    /// engine reads it (number columns take those strings as the doubles).
    /// </summary>
    private static byte[] Without(ReadOnlySpan<byte> line, IReadOnlySet<string> leftOut)
    {
        byte[]? quoted = null;
        try
        {
            return Project(line, leftOut);
        }
        catch (JsonException)
        {
            quoted = NamedFloatLiterals.Quote(line)?.Line.ToArray();
            if (quoted is null) throw;
        }
        return Project(quoted, leftOut);

        static byte[] Project(ReadOnlySpan<byte> line, IReadOnlySet<string> leftOut)
        {
            var output = new List<byte>(line.Length) { (byte)'{' };
            var reader = new Utf8JsonReader(line, RecordOptions);
            reader.Read();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var start = (int)reader.TokenStartIndex;
                var name = reader.GetString()!;
                reader.Read();
                reader.Skip();
                if (leftOut.Contains(name)) continue;
                if (output.Count > 1) output.Add((byte)',');
                output.AddRange(line[start..(int)reader.BytesConsumed]);
            }
            output.Add((byte)'}');
            return [.. output];
        }
    }

    /// <summary>Advances to the next non-blank line and checks it is one JSON object; errors name the file and line.</summary>
    private static bool NextRecord(SingerLineReader lines, SourceFile file, out ReadOnlySpan<byte> line)
    {
        while (lines.TryReadLine(out line))
        {
            if (lines.LineNumber == 1 && line.StartsWith("\uFEFF"u8)) line = line[3..];
            if (line.Trim(" \t"u8).IsEmpty) continue;
            try
            {
                CheckOneObject(line, file, lines.LineNumber);
            }
            catch (JsonException e)
            {
                // Python's json.dumps writes a float('nan') or an infinity as a bare NaN / Infinity: such a line is taken
                // as the engine takes it, with them quoted (they land in number columns as those doubles).
                if (NamedFloatLiterals.Quote(line) is not { } quoted || !TryCheckOneObject(quoted.Line, file, lines.LineNumber))
                    throw new TapException($"{TapName} tap: {file.Location} line {lines.LineNumber}: not valid JSON: {e.Message.Split(" LineNumber:")[0]}{LoneCarriageReturnHint(line)}", e);
            }
            return true;
        }
        return false;
    }

    /// <summary>Why a line holding a carriage return outside strings may be several records: lines that end in a lone CR (classic Mac).</summary>
    private static string LoneCarriageReturnHint(ReadOnlySpan<byte> line) =>
        line.TrimEnd("\r"u8).Contains((byte)'\r')
            ? " (the line holds a carriage return: if the file's lines end in a lone CR, as classic Mac files do, convert them to LF or CRLF)"
            : "";

    private static void CheckOneObject(ReadOnlySpan<byte> line, SourceFile file, long lineNumber)
    {
        var reader = new Utf8JsonReader(line, RecordOptions);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) throw new TapException($"{TapName} tap: {file.Location} line {lineNumber}: not a JSON object");
        reader.Skip();
        if (reader.Read()) throw new TapException($"{TapName} tap: {file.Location} line {lineNumber}: more than one JSON value on the line");
    }

    private static bool TryCheckOneObject(ReadOnlySpan<byte> line, SourceFile file, long lineNumber)
    {
        try
        {
            CheckOneObject(line, file, lineNumber);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    internal sealed record StreamPlan(string Name, Matcher? Pattern, string? PatternText, IReadOnlyList<string> KeyProperties, JsonObject? Schema, List<SourceFile> Files) : IFileStream;

    internal sealed record Settings(List<string> Entries, int SampleRows, List<StreamPlan> Streams, Dictionary<string, string> StorageOptions)
        : IFileTapSettings<Settings, StreamPlan>
    {
        public static IReadOnlyList<string> FolderPatterns { get; } = ["*.jsonl", "*.ndjson", "*.jsonl.gz", "*.ndjson.gz"];

        private static readonly string[] ConfigKeys = [.. FileStreams.ConfigKeys, "sample_rows"];

        private static readonly string[] StreamKeys = [.. FileStreams.StreamKeys, "schema"];

        public static Settings From(JsonObject json)
        {
            var config = new TapConfig(TapName, json).OnlyKeys(ConfigKeys);
            var entries = FileStreams.Entries(TapName, config);
            var sampleRows = FileStreams.SampleRows(config);
            var streams = FileStreams.Configured(TapName, config, StreamKeys, (stream, where, name, matcher, pattern) =>
            {
                var schema = stream.Object("schema")?.DeepClone().AsObject();
                if (schema is not null && schema["properties"] is not JsonObject) throw stream.Wrong($"{where}.schema", "a JSON Schema object with 'properties'");
                return new StreamPlan(name, matcher, pattern, stream.Strings("key_properties"), schema, []);
            });
            return new Settings(entries, sampleRows, streams, config.StringMap("storage_options"));
        }
    }
}

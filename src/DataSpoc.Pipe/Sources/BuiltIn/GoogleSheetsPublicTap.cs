using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// The built-in <c>google-sheets-public</c> tap: a public sheet's CSV export as one stream, types inferred (or declared
/// under <c>types</c>). Config: <c>url</c> (the sheet's address) or <c>sheet_id</c>, <c>gid</c> (the tab, default 0),
/// <c>stream_name</c>, <c>key_properties</c>, <c>types</c>, <c>sample_rows</c>, and <c>export_base_url</c>
/// (default <c>https://docs.google.com/spreadsheets/d</c>; tests point it at a loopback server).
/// A sheet is a snapshot, so each sync ends with ACTIVATE_VERSION: the lake replaces the table instead of appending.
/// </summary>
public sealed partial class GoogleSheetsPublicTap(HttpClient? http = null, TimeProvider? time = null) : ITypedBuiltInTap
{
    private const string TapName = "google-sheets-public";
    private const string DefaultExportBase = "https://docs.google.com/spreadsheets/d";
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public string Name => TapName;

    public async Task DiscoverAsync(JsonObject config, Stream output, CancellationToken cancellationToken)
    {
        var sheet = Sheet.From(config);
        await using var download = await DownloadAsync(sheet, cancellationToken).ConfigureAwait(false);
        var columns = await sheet.Table.InferAsync([download.File], sheet.Types, cancellationToken).ConfigureAwait(false);
        CheckKeys(sheet, columns);
        await TapCatalog.WriteAsync([TapCatalog.Entry(sheet.StreamName, sheet.StreamName, CsvTable.Schema(columns), sheet.KeyProperties)], output, cancellationToken).ConfigureAwait(false);
    }

    public Task SyncAsync(JsonObject config, JsonObject? state, JsonObject? catalog, Stream output, CancellationToken cancellationToken)
        => this.SyncAsJsonAsync(config, state, catalog, output, cancellationToken);

    async Task ITypedBuiltInTap.SyncAsync(JsonObject config, JsonObject? state, JsonObject? catalog, RecordSink sink, CancellationToken cancellationToken)
    {
        var sheet = Sheet.From(config);
        var selection = new TapCatalog(catalog);
        if (selection.IsSelected(sheet.StreamName))
        {
            await using var download = await DownloadAsync(sheet, cancellationToken).ConfigureAwait(false);
            var all = await sheet.Table.InferAsync([download.File], sheet.Types, cancellationToken).ConfigureAwait(false);
            CheckKeys(sheet, all);
            var columns = sheet.Table.Extracted(all, sheet.StreamName, sheet.KeyProperties, selection);
            var leftOut = all.Except(columns).Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
            var rows = sink.WriteSchema(sheet.StreamName, CsvTable.Schema(columns), sheet.KeyProperties);
            await sheet.Table.EmitAsync(sheet.StreamName, download.File, rows, columns, sink, cancellationToken, leftOut).ConfigureAwait(false);
            sink.WriteActivateVersion(sheet.StreamName, _time.GetUtcNow().ToUnixTimeMilliseconds());
        }
        sink.WriteState(state?.DeepClone() ?? new JsonObject());
        await sink.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static void CheckKeys(Sheet sheet, List<TextColumn> columns)
    {
        foreach (var key in sheet.KeyProperties)
            if (columns.All(c => c.Name != key))
                throw new TapException($"{TapName} tap: key property '{key}' is not a column of the sheet (columns: {string.Join(", ", columns.Select(c => c.Name))})");
    }

    /// <summary>Fetches the CSV export into a temp file (deleted on dispose), so the sheet is read twice without two requests.</summary>
    private async Task<Download> DownloadAsync(Sheet sheet, CancellationToken cancellationToken)
    {
        var path = Lake.LakePaths.ScratchFile("sheet", ".csv");
        var client = http ?? new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        try
        {
            using var response = await client.GetAsync(sheet.ExportUrl, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw new TapException($"{TapName} tap: {sheet.ExportUrl} answered {(int)response.StatusCode} {response.ReasonPhrase}; is the sheet shared as 'anyone with the link'?");
            if (response.Content.Headers.ContentType?.MediaType is "text/html")
                throw new TapException($"{TapName} tap: {sheet.ExportUrl} returned an HTML page, not CSV; is the sheet public?");
            await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await response.Content.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            File.Delete(path);
            throw new TapException($"{TapName} tap: cannot fetch {sheet.ExportUrl}: {e.Message}", e);
        }
        catch
        {
            File.Delete(path);
            throw;
        }
        finally
        {
            if (http is null) client.Dispose();
        }
        var info = new FileInfo(path);
        var source = new SourceFile(sheet.ExportUrl, info.Length, info.LastWriteTimeUtc,
            _ => Task.FromResult<Stream>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16)));
        return new Download(source, path);
    }

    private sealed record Download(SourceFile File, string Path) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            System.IO.File.Delete(Path);
            return ValueTask.CompletedTask;
        }
    }

    private sealed record Sheet(string ExportUrl, string StreamName, IReadOnlyList<string> KeyProperties, IReadOnlyDictionary<string, TextColumnType> Types, CsvTable Table)
    {
        private static readonly string[] ConfigKeys = ["url", "sheet_id", "gid", "export_base_url", "stream_name", "key_properties", "types", "sample_rows"];

        public static Sheet From(JsonObject json)
        {
            var config = new TapConfig(TapName, json).OnlyKeys(ConfigKeys);
            var url = config.String("url");
            var id = config.String("sheet_id") ?? (url is null ? null : SheetId().Match(url) is { Success: true } m ? m.Groups[1].Value : null)
                ?? throw TapException.Configuration($"{TapName} tap: config needs 'url' (the sheet's address, with /spreadsheets/d/<id>) or 'sheet_id'");
            var gid = (json["gid"]?.GetValueKind() == JsonValueKind.Number ? config.Int("gid")?.ToString(System.Globalization.CultureInfo.InvariantCulture) : config.String("gid"))
                ?? (url is null ? null : Gid().Match(url) is { Success: true } g ? g.Groups[1].Value : null) ?? "0";
            if (!gid.All(char.IsAsciiDigit)) throw config.Wrong("gid", "a number");
            var exportBase = (config.String("export_base_url") ?? DefaultExportBase).TrimEnd('/');
            var exportUrl = $"{exportBase}/{Uri.EscapeDataString(id)}/export?format=csv&gid={gid}";
            var types = new Dictionary<string, TextColumnType>(StringComparer.Ordinal);
            foreach (var (column, type) in config.Object("types") ?? [])
            {
                if (type is not JsonValue v || v.GetValueKind() != JsonValueKind.String) throw config.Wrong($"types.{column}", "a type name");
                types[column] = TextColumnTypes.Parse(v.GetValue<string>(), $"{TapName} tap: config key 'types.{column}'");
            }
            var sampleRows = FileStreams.SampleRows(config);
            return new Sheet(exportUrl, config.String("stream_name") ?? "sheet", config.Strings("key_properties"), types,
                new CsvTable(TapName, CsvFormat.Default with { Tap = TapName }, sampleRows));
        }
    }

    [GeneratedRegex(@"/spreadsheets/d/([A-Za-z0-9_-]+)")]
    private static partial Regex SheetId();

    [GeneratedRegex(@"[#&?]gid=([0-9]+)")]
    private static partial Regex Gid();
}

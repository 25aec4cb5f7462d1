using System.Globalization;
using System.Text;
using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Cli.Infrastructure;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cli.Ui;

/// <summary>
/// The dashboard's read-only pages, rendered on the server from the engine's application layer (<see cref="PipeClient"/>:
/// status, run logs, manifests, all with secrets masked). Buckets are only those the home's pipelines write to, by index.
/// </summary>
internal sealed class DashboardPages(PipeClient client, ObjectStoreFactory stores, TimeProvider time)
{
    public const int ChartRuns = 30;
    public const int PreviewRows = 20;
    public const int PreviewCellChars = 200;

    public async Task<string?> OverviewAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var body = new StringBuilder("<h2>Pipelines</h2><table id=\"pipelines\"><tr><th>pipeline</th><th>status</th><th>last run</th><th>duration</th><th>records</th><th>schedule</th><th>next run</th><th>error</th></tr>");
        foreach (var s in await client.StatusAsync(cancellationToken))
        {
            // A file whose name is no pipeline name (pipelines/.yaml) is shown by its file, and has no page to link to.
            var shown = client.ShownName(s.Pipeline);
            var cell = shown == s.Pipeline ? $"<a href=\"/pipelines/{Uri.EscapeDataString(s.Pipeline)}\">{Html.Encode(shown)}</a>" : Html.Encode(shown);
            body.Append(CultureInfo.InvariantCulture, $"<tr class=\"pipeline\" data-pipeline=\"{Html.Encode(s.Pipeline)}\"><td>{cell}</td>");
            // A run in progress is the status (its start, id and pid as the cell's title); the other cells stay the previous run's.
            var (status, title) = s.Running is { } running
                ? (TableCells.Activity(running), $" title=\"since {Html.Encode(Html.Time(running.Since))}, {Html.Encode(TableCells.Runner(running))}; previous run: {Html.Encode(s.Status)}\"")
                : (s.Status, "");
            body.Append(CultureInfo.InvariantCulture, $"<td class=\"status {Html.Encode(status.Split(' ')[0])}\"{title}>{Html.Encode(status)}</td><td>{Html.Encode(Html.Time(s.LastRun))} <small>{Html.Encode(Html.Ago(s.LastRun, now))}</small></td>");
            body.Append(CultureInfo.InvariantCulture, $"<td class=\"num\">{(s.DurationSeconds is { } d ? Html.Encode(Units.Duration(d)) : "-")}</td><td class=\"num\">{(s.Records is { } r ? Html.Encode(Units.Count(r)) : "-")}</td>");
            body.Append(CultureInfo.InvariantCulture, $"<td>{Html.Encode(s.Schedule ?? "-")}</td><td>{Html.Encode(Html.Time(s.NextRun))}{NextRunNote(s)}</td><td>{Html.Encode(s.Error)}</td></tr>");
        }
        body.Append("</table><h2>Buckets</h2><ul id=\"buckets\">");
        var buckets = Buckets();
        for (var i = 0; i < buckets.Count; i++)
            body.Append(CultureInfo.InvariantCulture, $"<li><a href=\"/buckets/{i}\">{Html.Encode(buckets[i].Shown)}</a></li>");
        return Html.Page("pipelines", body.Append("</ul>").ToString());
    }

    /// <summary>The zone cron reads the schedule in, and why cron's runs are not what schedule.cron says (e.g. not installed).</summary>
    private static string NextRunNote(PipelineStatus s)
    {
        var note = new StringBuilder();
        if (s.NextRun is not null) note.Append(CultureInfo.InvariantCulture, $" <small>({Html.Encode(s.ScheduleTimeZone)})</small>");
        if (s.ScheduleProblem is { } problem) note.Append(CultureInfo.InvariantCulture, $"<br><small class=\"schedule-problem\">{Html.Encode(problem)}</small>");
        return note.ToString();
    }

    /// <summary>
    /// A pipeline's recent runs: the charts and one row per run (id, times, status, totals, the error cut to a glance). A
    /// run's streams and full log are its own page (<see cref="RunAsync"/>), linked from the row: a log holds every stream
    /// of its run, and thirty logs of a pipeline of hundreds of streams made this page megabytes.
    /// </summary>
    public async Task<string?> PipelineAsync(string name, CancellationToken cancellationToken)
    {
        var logs = await client.LogsAsync(name, ChartRuns, cancellationToken);
        var oldestFirst = logs.Reverse().ToList();
        var body = new StringBuilder();
        body.Append(CultureInfo.InvariantCulture, $"<h2>Recent runs ({logs.Count})</h2><div class=\"charts\">");
        // A run that completed a killed run's commit landed that run's rows too (the killed run wrote no log): counted here.
        body.Append(RunChart.Svg(oldestFirst, "records", "records landed per run", r => r.LandedRecords, v => Units.Count((long)v), RecoveredNote));
        body.Append(RunChart.Svg(oldestFirst, "duration", "duration per run", r => r.DurationSeconds, Units.Duration));
        body.Append("</div><h2>Run logs</h2><table id=\"runs\"><tr><th>run</th><th>started</th><th>status</th><th>mode</th><th>duration</th><th>records</th><th>recovered</th><th>summary</th></tr>");
        foreach (var log in logs)
        {
            body.Append(CultureInfo.InvariantCulture, $"<tr class=\"run\"><td><a href=\"{RunLink(name, log.RunId)}\">{Html.Encode(log.RunId)}</a></td><td>{Html.Encode(Html.Time(log.StartedAt))}</td><td class=\"{Html.Encode(log.Status)}\">{Html.Encode(log.Status)}</td>");
            body.Append(CultureInfo.InvariantCulture, $"<td>{Html.Encode(log.Mode)}</td><td class=\"num\">{Html.Encode(Units.Duration(log.DurationSeconds))}</td><td class=\"num\">{Html.Encode(Units.Count(log.TotalRecords))}</td>");
            body.Append(CultureInfo.InvariantCulture, $"<td class=\"num recovered\">{Html.Encode(log.Recovered is { } recovered ? $"{Units.Count(recovered.Records)} (run {recovered.RunId})" : "-")}</td>");
            body.Append("<td>").Append(Html.Encode(Cut(log.Error ?? $"{log.Streams.Count} stream(s), {log.Notices.Count} notice(s)"))).Append("</td></tr>");
        }
        return Html.Page(name, body.Append("</table>").ToString());
    }

    /// <summary>A records point's note: how many of its rows came from a killed run's commit this run completed.</summary>
    private static string? RecoveredNote(RunLog run) =>
        run.Recovered is { } recovered ? $" ({Units.Count(recovered.Records)} recovered from run {recovered.RunId})" : null;

    private static string RunLink(string pipeline, string runId) => $"/pipelines/{Uri.EscapeDataString(pipeline)}/runs/{Uri.EscapeDataString(runId)}";

    /// <summary>One run of a pipeline: its streams' counts and its whole log (secrets masked); null when there is no such pipeline or run.</summary>
    public async Task<string?> RunAsync(string name, string runId, CancellationToken cancellationToken)
    {
        RunLog log;
        try { log = await client.LogAsync(name, runId, cancellationToken); }
        catch (Exception e) when (e is RunLogNotFoundException or ConfigException) { return null; }
        var body = new StringBuilder();
        body.Append(CultureInfo.InvariantCulture, $"<h2><a href=\"/pipelines/{Uri.EscapeDataString(name)}\">{Html.Encode(name)}</a> run {Html.Encode(log.RunId)}: <span class=\"{Html.Encode(log.Status)}\">{Html.Encode(log.Status)}</span></h2>");
        body.Append(CultureInfo.InvariantCulture, $"<p>{Html.Encode(Html.Time(log.StartedAt))} to {Html.Encode(Html.Time(log.FinishedAt))} ({Html.Encode(Units.Duration(log.DurationSeconds))}), {Html.Encode(log.Mode)}, {Html.Encode(Units.Count(log.TotalRecords))} records{Html.Encode(RecoveredNote(log))}</p>");
        if (log.Error is { } error) body.Append("<pre id=\"error\">").Append(Html.Encode(error)).Append("</pre>");
        body.Append("<h2>Streams</h2><table id=\"streams\"><tr><th>stream</th><th>records</th><th>rejected</th><th>filtered</th><th>files</th><th>size</th></tr>");
        foreach (var (stream, s) in log.Streams)
        {
            body.Append(CultureInfo.InvariantCulture, $"<tr class=\"stream\" data-stream=\"{Html.Encode(stream)}\"><td>{Html.Encode(stream)}</td><td class=\"num\">{Html.Encode(Units.Count(s.Records))}</td><td class=\"num\">{Html.Encode(Units.Count(s.Rejected))}</td>");
            body.Append(CultureInfo.InvariantCulture, $"<td class=\"num\">{Html.Encode(Units.Count(s.Filtered))}</td><td class=\"num\">{Html.Encode(Units.Count(s.Files))}</td><td class=\"num\">{Html.Encode(Units.Bytes(s.Bytes))}</td></tr>");
        }
        body.Append("</table><details><summary>log</summary><pre id=\"log\">").Append(Html.Encode(Encoding.UTF8.GetString(LakeJson.Serialize(log)))).Append("</pre></details>");
        return Html.Page($"{name} run {log.RunId}", body.ToString());
    }

    public async Task<string?> BucketAsync(int index, CancellationToken cancellationToken)
    {
        if (Bucket(index) is not { } bucket) return null;
        var manifest = await client.ManifestAsync(bucket.Uri, bucket.Options, cancellationToken);
        var now = time.GetUtcNow();
        var body = new StringBuilder("<h2>Tables</h2><table id=\"tables\"><tr><th>table</th><th>pipeline</th><th>columns</th><th>rows</th><th>files</th><th>size</th><th>last extraction</th></tr>");
        foreach (var (key, t) in manifest.Tables)
        {
            // A key holds the stream's name, which may hold a secret: shown and linked masked (TableAsync resolves it).
            var shownKey = bucket.Secrets.Redact(key);
            body.Append(CultureInfo.InvariantCulture, $"<tr class=\"table\"><td><a href=\"/buckets/{index}/table?key={Uri.EscapeDataString(shownKey)}\">{Html.Encode(shownKey)}</a></td><td>{Html.Encode(t.Pipeline)}</td>");
            body.Append("<td>").AppendJoin(", ", t.Columns.Select(c => $"{Html.Encode(bucket.Secrets.Redact(c.Name))} <small>{Html.Encode(c.Type)}</small>")).Append("</td>");
            body.Append(CultureInfo.InvariantCulture, $"<td class=\"num\">{Html.Encode(Units.Count(t.RowCount))}</td><td class=\"num\">{Html.Encode(Units.Count(t.Stats.Files))}</td><td class=\"num\">{Html.Encode(Units.Bytes(t.Stats.Bytes))}</td>");
            body.Append(CultureInfo.InvariantCulture, $"<td>{Html.Encode(Html.Time(t.Stats.LastExtraction))} <small>{Html.Encode(Html.Ago(t.Stats.LastExtraction, now))}</small></td></tr>");
        }
        return Html.Page(bucket.Shown, body.Append("</table>").ToString());
    }

    public async Task<string?> TableAsync(int index, string key, CancellationToken cancellationToken)
    {
        if (Bucket(index) is not { } bucket) return null;
        var manifest = await client.ManifestAsync(bucket.Uri, bucket.Options, cancellationToken);
        if (TableByShownKey(manifest, key, bucket.Secrets) is not (var tableKey, var table)) return null;
        key = bucket.Secrets.Redact(tableKey);
        await RefuseLocationAsync(table);
        List<System.Text.Json.Nodes.JsonObject> rows;
        try
        {
            // The table's current files only (an Iceberg/Delta folder also holds the files of replaced rows), read again
            // once when a run replaced one between the listing and the read.
            (table, rows) = await client.ReadTableFilesAsync(bucket.Uri, bucket.Options, tableKey, table, async (now, files) =>
            {
                if (now.Location != table.Location) await RefuseLocationAsync(now);
                return (now, await TablePreview.FirstRowsAsync(stores, files, bucket.Options, PreviewRows, cancellationToken));
            }, cancellationToken);
        }
        catch (TableChangedException e)
        {
            throw new StorageException(bucket.Secrets.Redact($"{e.Message}; reload the page"), e);
        }
        var body = new StringBuilder();
        body.Append(CultureInfo.InvariantCulture, $"<h2>{Html.Encode(key)}: first {rows.Count} of {Html.Encode(Units.Count(table.RowCount))} rows</h2><table id=\"rows\"><tr>");
        foreach (var c in table.Columns) body.Append("<th>").Append(Html.Encode(bucket.Secrets.Redact(c.Name))).Append("</th>");
        body.Append("</tr>");
        foreach (var row in rows)
        {
            cancellationToken.ThrowIfCancellationRequested();
            body.Append("<tr class=\"row\">");
            foreach (var c in table.Columns)
                body.Append("<td>").Append(Html.Encode(Cut(bucket.Secrets.Redact(row[c.Name] switch
                {
                    null => "null",
                    System.Text.Json.Nodes.JsonValue v when v.TryGetValue<string>(out var text) => text,
                    var v => v.ToJsonString(),
                })))).Append("</td>");
            body.Append("</tr>");
        }
        return Html.Page(bucket.Shown + " / " + key, body.Append("</table>").ToString());

        async Task RefuseLocationAsync(ManifestTable t)
        {
            // The manifest is data anyone who can write the bucket can edit: its location is read only inside this bucket.
            var bucketUri = BucketUri.Parse(bucket.Uri);
            if (bucketUri.KeyPrefixOf(t.Location) is not { } prefix)
                throw new StorageException(bucket.Secrets.Redact($"table {key} is at {t.Location}, outside {bucket.Shown}: the dashboard reads no rows from there"));
            await RefuseLinksOutOfBucketAsync(bucketUri, prefix, bucket, cancellationToken);
        }
    }

    /// <summary>
    /// The table the bucket page links to as <paramref name="shownKey"/>: its key as shown there (masked), or the key itself.
    /// Two keys that mask alike are told apart by nothing shown, so the first in the manifest's order is the one linked.
    /// </summary>
    private static (string Key, ManifestTable Table)? TableByShownKey(Manifest manifest, string shownKey, ConfigSecrets secrets)
    {
        if (manifest.Tables.TryGetValue(shownKey, out var exact)) return (shownKey, exact);
        foreach (var (key, table) in manifest.Tables)
            if (secrets.Redact(key) == shownKey) return (key, table);
        return null;
    }

    /// <summary>
    /// A preview cell's text, cut to <see cref="PreviewCellChars"/> with the full length said: one value may be megabytes,
    /// and the page is for a glance. Cut after masking, so no part of a secret is shown.
    /// </summary>
    internal static string Cut(string text) => text.Length <= PreviewCellChars ? text
        : string.Concat(text.AsSpan(0, char.IsHighSurrogate(text[PreviewCellChars - 1]) ? PreviewCellChars - 1 : PreviewCellChars),
            $"… ({text.Length.ToString("N0", CultureInfo.InvariantCulture)} characters)");

    /// <summary>
    /// The preview reads a table's files as the parquet tap reads a user's source, and a source may follow symbolic
    /// links anywhere. The lake is not a source: its files are listed through the bucket's store first, which refuses
    /// a link that leads out of a <c>file://</c> bucket (cloud buckets have no links, so they are not listed twice).
    /// </summary>
    private async Task RefuseLinksOutOfBucketAsync(BucketUri bucketUri, string prefix, BucketEntry bucket, CancellationToken cancellationToken)
    {
        await using var store = stores.Open(bucketUri.Canonical, bucket.Options);
        if (store.LocalRoot is null) return;
        try
        {
            await foreach (var _ in store.ListAsync(prefix.TrimEnd('/') + "/", cancellationToken)) { }
        }
        catch (StorageException e)
        {
            throw new StorageException(bucket.Secrets.Redact($"table at {bucketUri.Canonical}/{prefix}: {e.Message}; the dashboard reads no rows from there"), e);
        }
    }

    private sealed record BucketEntry(string Uri, IReadOnlyDictionary<string, string>? Options, string Shown, ConfigSecrets Secrets);

    private BucketEntry? Bucket(int index) => Buckets() is var all && index >= 0 && index < all.Count ? all[index] : null;

    /// <summary>
    /// The buckets of the home's pipelines that load, in pipeline order, each once, masked with every pipeline's secrets
    /// (<see cref="PipeClient.HomeSecrets"/>, as the MCP server masks): a bucket's tables and rows may come from several
    /// pipelines, so masking with one pipeline's secrets would show another's in clear.
    /// </summary>
    private List<BucketEntry> Buckets()
    {
        var secrets = client.HomeSecrets();
        var buckets = new List<BucketEntry>();
        foreach (var name in client.Pipelines())
        {
            PipelineDefinition pipeline;
            try { pipeline = client.Load(name); }
            catch (ConfigException) { continue; }
            var uri = pipeline.Destination.Bucket;
            if (buckets.Any(b => b.Uri == uri)) continue;
            buckets.Add(new BucketEntry(uri, pipeline.Destination.StorageOptions, secrets.Redact(uri), secrets));
        }
        return buckets;
    }
}

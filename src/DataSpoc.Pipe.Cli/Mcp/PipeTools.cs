using System.ComponentModel;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Cli.Infrastructure;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace DataSpoc.Pipe.Cli.Mcp;

/// <summary>The MCP tools: thin adapters over <see cref="PipeClient"/> that answer structured JSON.</summary>
[McpServerToolType]
internal sealed class PipeTools(PipeClient client)
{
    [McpServerTool(Name = "list_pipelines", ReadOnly = true, Idempotent = true)]
    [Description("List the pipelines of the home folder: name, shown (how to show it: a file whose name is no pipeline name, such as pipelines/.yaml, by its file), tap, bucket, schedule, incremental.")]
    public CallToolResult ListPipelines() => McpResults.Ok(client, PipelineSummaries());

    [McpServerTool(Name = "pipeline_config", ReadOnly = true, Idempotent = true)]
    [Description("A pipeline's effective configuration (defaults applied), with secrets masked as ***.")]
    public CallToolResult PipelineConfig([Description("The pipeline's name")] string name) =>
        Guard(() => new JsonObject { ["pipeline"] = name, ["config"] = client.Config(name) });

    [McpServerTool(Name = "run_pipeline", Destructive = false, OpenWorld = true)]
    [Description("Run a pipeline once: extract with its tap, write Parquet, commit manifest, state and run log. Reports progress while it runs; returns the run log.")]
    public async Task<CallToolResult> RunPipeline(
        McpServer server,
        RequestContext<CallToolRequestParams> context,
        [Description("The pipeline's name")] string name,
        [Description("Full refresh: ignore saved state and replace the tables it writes")] bool full = false,
        CancellationToken cancellationToken = default)
    {
        var token = context.Params?.ProgressToken;
        // The MCP spec wants each notification's progress greater than the one before (a strict client drops the others):
        // a value that has not moved since the last one sent is not sent, and each is sent once the one before it is, so
        // they also reach the wire in that order (ticks are not awaited by the run).
        var sent = -1L;
        var sending = Task.CompletedTask;
        var gate = new Lock();
        Task Notify(long progress, string message, long? total = null)
        {
            if (token is not { } t) return Task.CompletedTask;
            var value = new ProgressNotificationValue { Progress = progress, Total = total, Message = message };
            lock (gate)
            {
                if (progress <= sent) return Task.CompletedTask;
                sent = progress;
                return sending = sending.ContinueWith(_ => server.NotifyProgressAsync(t, value, cancellationToken: cancellationToken),
                    CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
            }
        }
        try
        {
            // The first and last notifications are awaited, so they reach the client before the result does.
            await Notify(0, $"starting {name}");
            // Stream names in RunProgress are masked by the run, as in its log.
            var runProgress = new SynchronousProgress<RunProgress>(p => _ = Notify(p.Streams.Sum(s => s.Records), ProgressMessage(p)));
            var result = await client.RunAsync(name, full, runProgress, cancellationToken);
            // A cancel that came once the run had passed its commit point (or ended) did not stop it: the run committed.
            var cancelledTooLate = cancellationToken.IsCancellationRequested && result.Log.Status != "cancelled";
            if (!cancelledTooLate)
                await Notify(result.Log.TotalRecords, $"{result.Log.Status}: {result.Log.TotalRecords} records", result.Log.TotalRecords);
            var answer = new JsonObject
            {
                ["pipeline"] = name,
                ["status"] = result.Log.Status,
                ["run_id"] = result.Log.RunId,
                ["total_records"] = result.Log.TotalRecords,
                ["duration_seconds"] = result.Log.DurationSeconds,
                ["error"] = result.Log.Error,
                ["log"] = McpResults.ToNode(result.Log, McpResults.Json.RunLog),
            };
            if (cancelledTooLate)
                answer["note"] = $"notifications/cancelled came too late to stop the run (it had passed its commit point): the run ended {result.Log.Status} (run {result.Log.RunId})";
            var reply = result.Succeeded ? McpResults.Ok(client, answer) : McpResults.Failed(client, answer);
            // The SDK sends no response once a request's cancellation is requested (the spec allows that for a request that
            // was stopped): the client would never learn that this run was not. Returned to the SDK too, it is not sent
            // twice: the SDK's send refuses a cancelled request.
            if (cancelledTooLate) await McpResults.SendAsync(server, context.JsonRpcRequest.Id, reply);
            return reply;
        }
        catch (Exception e) when (IsUserError(e))
        {
            // The run could not start (invalid config, bucket unreachable, another run holds the lock): nothing ran. The
            // answer is the document `run NAME --output json` prints then, so a caller tells "invalid" from "failure".
            return McpResults.Failed(client, ErrorReport.NotRun(name, e));
        }
    }

    /// <summary>A progress notification's text: the step, the time, and the records of the streams <see cref="RunProgress.StreamsShown"/> names.</summary>
    internal static string ProgressMessage(RunProgress p)
    {
        var text = $"{p.Phase} {p.Elapsed.TotalSeconds:0.0}s: " + string.Join(", ", p.StreamsShown.Select(s => $"{s.Stream} {s.Records} records"));
        return p.NotShownSummary is { } rest ? text + $" ({rest})" : text;
    }

    [McpServerTool(Name = "pipeline_status", ReadOnly = true, Idempotent = true)]
    [Description("Each pipeline's latest run (status, time, duration, records, error) and next scheduled time; or one pipeline's.")]
    public async Task<CallToolResult> PipelineStatus(
        [Description("Only this pipeline (default: all)")] string? name = null,
        CancellationToken cancellationToken = default)
    {
        if (name is not null && !Lake.LakeNames.IsValidPipelineName(name))
            return McpResults.Error(client, $"pipeline name '{name}' is not valid: {Lake.LakeNames.PipelineNameRule}");
        var rows = (await client.StatusAsync(cancellationToken)).Where(s => name is null || s.Pipeline == name).ToList();
        if (name is not null && rows.Count == 0) return McpResults.Error(client, Unknown(name));
        return McpResults.Ok(client, new JsonObject { ["pipelines"] = McpResults.ToNode(rows, McpResults.Json.ListPipelineStatus) });
    }

    [McpServerTool(Name = "pipeline_logs", ReadOnly = true, Idempotent = true)]
    [Description("A pipeline's most recent run logs, newest first (status, records per stream, errors, tap exit code); or, with run, that run's log.")]
    public async Task<CallToolResult> PipelineLogs(
        RequestContext<CallToolRequestParams> context,
        [Description("The pipeline's name")] string name,
        [Description("How many logs: at least 1, at most 100 (default 5)")] int limit = 5,
        [Description("Only the log of this run (a run_id from run_pipeline, pipeline_status or this tool's list); not with limit")] string? run = null,
        CancellationToken cancellationToken = default)
    {
        // As logs --list --limit: a count of runs.
        if (limit < 1) return McpResults.Error(client, $"limit: {limit} is not a number of runs; give at least 1");
        // As logs --run refuses --list: a limit would be ignored without a word.
        if (run is not null && context.Params?.Arguments?.ContainsKey("limit") == true)
            return McpResults.Error(client, "limit counts the recent runs and run picks one run's log: give one of them");
        try
        {
            IReadOnlyList<RunLog> logs = run is null
                ? await client.LogsAsync(name, Math.Min(limit, 100), cancellationToken)
                : [await client.LogAsync(name, run, cancellationToken)];
            return McpResults.Ok(client, new JsonObject { ["pipeline"] = name, ["logs"] = McpResults.ToNode(logs, McpResults.Json.IReadOnlyListRunLog) });
        }
        catch (Exception e) when (IsUserError(e))
        {
            return McpResults.Error(client, e.Message);
        }
    }

    [McpServerTool(Name = "list_streams", ReadOnly = true, Idempotent = true)]
    [Description("The streams a pipeline's tap offers (its --discover catalog, cached beside the pipeline), which ones the pipeline selects, their keys, replication and column counts, and how a run passes the catalog, as `dataspoc-pipe streams NAME` shows them.")]
    public async Task<CallToolResult> ListStreams(
        [Description("The pipeline's name")] string name,
        CancellationToken cancellationToken = default)
        => await AnswerAsync(async () => (await client.StreamsAsync(name, refresh: false, cancellationToken)).ToJson());

    [McpServerTool(Name = "expire_pipeline_logs", Destructive = true, Idempotent = true, OpenWorld = true)]
    [Description("Delete a pipeline's run logs of runs older than the given age from its bucket; the latest run's log always stays.")]
    public async Task<CallToolResult> ExpirePipelineLogs(
        [Description("The pipeline's name")] string name,
        [Description("Delete the logs of runs older than this: 90d, 12h, 30m")] string older_than,
        CancellationToken cancellationToken = default)
    {
        if (!Durations.TryParse(older_than, out var age))
            return McpResults.Error(client, $"older_than: {Durations.Problem(older_than, "90d, 12h, 30m")}");
        try
        {
            var expiry = await client.ExpireLogsAsync(name, age, cancellationToken);
            return McpResults.Ok(client, new JsonObject { ["pipeline"] = expiry.Pipeline, ["deleted"] = expiry.Deleted, ["kept"] = expiry.Kept, ["older_than"] = older_than });
        }
        catch (Exception e) when (IsUserError(e))
        {
            return McpResults.Error(client, e.Message);
        }
    }

    [McpServerTool(Name = "show_manifest", ReadOnly = true, Idempotent = true)]
    [Description("The table catalog (.dataspoc/manifest.json) of a bucket, of a pipeline's bucket, or of every bucket the pipelines write to.")]
    public Task<CallToolResult> ShowManifest(
        [Description("A bucket URI (file:///…, s3://…, gs://…, az://…)")] string? bucket = null,
        [Description("A pipeline whose bucket to read (with bucket: the same bucket)")] string? pipeline = null,
        CancellationToken cancellationToken = default)
        => AnswerAsync(async () =>
        {
            var manifests = new JsonArray();
            foreach (var (uri, manifest, error) in await ManifestsAsync(bucket, pipeline, cancellationToken))
                manifests.Add((JsonNode)(error is null
                    ? new JsonObject { ["bucket"] = uri, ["manifest"] = McpResults.ToNode(manifest!, McpResults.Json.Manifest) }
                    : new JsonObject { ["bucket"] = uri, ["error"] = error }));
            return new JsonObject { ["manifests"] = manifests };
        });

    [McpServerTool(Name = "maintain_tables", Destructive = true, Idempotent = true, OpenWorld = true)]
    [Description("Maintain a pipeline's tables: optionally compact small files first (every table), then expire Iceberg/Delta snapshots older than the given age (never the current one) and delete the files only expired snapshots read.")]
    public async Task<CallToolResult> MaintainTables(
        // `name`, as every other per-pipeline tool takes it, and required, as the schema says; `pipeline`, the name this
        // tool took before, is still taken beside it (the same name), so that a call giving both binds.
        [Description("The pipeline's name")] string name,
        [Description("Expire snapshots older than this: 7d, 12h, 30m (default 7d)")] string expire_older_than = "7d",
        [Description("Compact each partition's small files into files of about target_file_mb (an Iceberg replace snapshot, a Delta dataChange:false commit)")] bool compact = false,
        [Description("With compact: the size compacted files aim at, in MB (default 128)")] int? target_file_mb = null,
        [Description("The same as name (the argument's earlier name); name is required")] string? pipeline = null,
        CancellationToken cancellationToken = default)
    {
        if (pipeline is not null && name != pipeline)
            return McpResults.Error(client, $"name '{name}' and pipeline '{pipeline}' differ: give name only");
        if (!Durations.TryParse(expire_older_than, out var olderThan))
            return McpResults.Error(client, $"expire_older_than: {Durations.Problem(expire_older_than, "7d, 12h, 30m")}");
        if (Tables.CompactionDefaults.TargetWithoutCompactionProblem(target_file_mb, compact, "compact: true") is { } compaction)
            return McpResults.Error(client, $"target_file_mb: {compaction}");
        if (target_file_mb < 1) return McpResults.Error(client, $"target_file_mb: {target_file_mb} is not a size; give at least 1 (MB)");
        try
        {
            var results = await client.MaintainAsync(name, olderThan, compact ? target_file_mb ?? Tables.CompactionDefaults.TargetFileMb : null, cancellationToken);
            return McpResults.Ok(client, results.ToJson());
        }
        catch (Exception e) when (IsUserError(e))
        {
            // What it did and left (a compaction whose files landed, an expiry's deletions) is in its notices: the
            // document `maintain NAME --output json` prints then.
            return McpResults.Failed(client, ErrorReport.MaintainFailed(name, e));
        }
    }

    [McpServerTool(Name = "list_tables", ReadOnly = true, Idempotent = true)]
    [Description("The tables in the lake (from the manifest): source/table, location, row count, files, bytes, last extraction and columns with types.")]
    public Task<CallToolResult> ListTables(
        [Description("A bucket URI (default: every bucket the pipelines write to)")] string? bucket = null,
        [Description("Only the bucket of this pipeline (with bucket: the same bucket)")] string? pipeline = null,
        CancellationToken cancellationToken = default)
        => AnswerAsync(async () =>
        {
            var tables = new JsonArray();
            var unread = new JsonArray();
            foreach (var (uri, manifest, error) in await ManifestsAsync(bucket, pipeline, cancellationToken))
            {
                // A bucket never written to has no tables: listing every bucket, that is no error.
                if (error is not null && manifest is null)
                {
                    unread.Add((JsonNode)new JsonObject { ["bucket"] = uri, ["error"] = error });
                    continue;
                }
                foreach (var (key, t) in manifest!.Tables)
                    tables.Add((JsonNode)new JsonObject
                    {
                        ["bucket"] = uri,
                        ["table"] = key,
                        ["pipeline"] = t.Pipeline,
                        ["location"] = t.Location,
                        ["row_count"] = t.RowCount,
                        ["files"] = t.Stats.Files,
                        ["bytes"] = t.Stats.Bytes,
                        ["last_extraction"] = t.Stats.LastExtraction,
                        ["write_mode"] = t.WriteMode,
                        ["columns"] = McpResults.ToNode(t.Columns, McpResults.Json.ListManifestColumn),
                    });
            }
            var answer = new JsonObject { ["tables"] = tables };
            if (unread.Count > 0) answer["unreadable_buckets"] = unread;
            return answer;
        });

    [McpServerTool(Name = "validate_pipeline", ReadOnly = true, Idempotent = true)]
    [Description("Check a pipeline (or all) without running it, as `dataspoc-pipe validate` does: YAML, tap config, variables, transform maps, that the tap is found and answers, its catalog selection, and that the bucket allows write, read, list and delete; each problem names its file, line and key.")]
    public async Task<CallToolResult> ValidatePipeline(
        [Description("The pipeline's name (default: all)")] string? name = null,
        CancellationToken cancellationToken = default)
    {
        try
        {
            var results = new List<PipelineValidation>();
            foreach (var n in name is null ? client.Pipelines() : [name])
                results.Add(await client.ValidateAsync(n, cancellationToken));
            return McpResults.Ok(client, new JsonObject { ["ok"] = results.All(r => r.Ok), ["pipelines"] = McpResults.ToNode(results, McpResults.Json.ListPipelineValidation) });
        }
        catch (Exception e) when (IsUserError(e))
        {
            return McpResults.Error(client, e.Message);
        }
    }

    /// <summary>
    /// One line per pipeline, for <c>list_pipelines</c> and the <c>pipe://pipelines</c> resource: <c>name</c> is the name
    /// the file gives (as every JSON answer keeps it), <c>shown</c> the name as <c>status</c> shows it (<see cref="PipeClient.ShownName"/>).
    /// </summary>
    public JsonObject PipelineSummaries()
    {
        var rows = new JsonArray();
        foreach (var name in client.Pipelines())
        {
            try
            {
                var config = client.Config(name);
                rows.Add((JsonNode)new JsonObject
                {
                    ["name"] = name,
                    ["shown"] = client.ShownName(name),
                    ["tap"] = config["source"]?["tap"]?.DeepClone(),
                    ["bucket"] = config["destination"]?["bucket"]?.DeepClone(),
                    ["incremental"] = config["incremental"]?["enabled"]?.DeepClone(),
                    ["schedule"] = config["schedule"]?["cron"]?.DeepClone(),
                    ["file"] = client.Load(name).FilePath,
                });
            }
            catch (ConfigException e)
            {
                rows.Add((JsonNode)new JsonObject { ["name"] = name, ["shown"] = client.ShownName(name), ["error"] = e.Message });
            }
        }
        return new JsonObject { ["home"] = client.Home, ["pipelines"] = rows };
    }

    private CallToolResult Guard(Func<JsonObject> answer)
    {
        try
        {
            return McpResults.Ok(client, answer());
        }
        catch (Exception e) when (IsUserError(e))
        {
            return McpResults.Error(client, e.Message);
        }
    }

    /// <summary>The answer, or the message of an error the user can act on (see <see cref="IsUserError"/>) as a tool error.</summary>
    private async Task<CallToolResult> AnswerAsync(Func<Task<JsonObject>> answer)
    {
        try
        {
            return McpResults.Ok(client, await answer());
        }
        catch (Exception e) when (IsUserError(e))
        {
            return McpResults.Error(client, e.Message);
        }
    }

    /// <summary>
    /// An error written for the user (every <see cref="PipeException"/>: invalid config, bucket unreachable, pipeline
    /// already running, damaged run log…), or a bucket URI or lake name that does not parse (their parsers raise
    /// Format/ArgumentException): said to the agent as a tool error. Anything else is a bug: the SDK answers its generic
    /// text and logs the exception once on stderr.
    /// </summary>
    private static bool IsUserError(Exception e) => e is PipeException or FormatException or ArgumentException;

    /// <summary>
    /// The manifest of each bucket a manifest tool reads (<see cref="Buckets"/>), or why there is none. One bucket named
    /// (by <paramref name="bucket"/> or <paramref name="pipeline"/>): its error is the tool's, and a manifest never
    /// written is one too, as the CLI's <c>manifest</c> says. Every bucket: one that cannot be read is named with its
    /// error, and the others still answer, as <c>pipeline_status</c> marks such a pipeline unknown; a bucket never
    /// written to comes with its (empty) manifest and that error.
    /// </summary>
    private async Task<List<(string Uri, Manifest? Manifest, string? Error)>> ManifestsAsync(string? bucket, string? pipeline, CancellationToken cancellationToken)
    {
        var every = bucket is null && pipeline is null;
        var answers = new List<(string, Manifest?, string?)>();
        foreach (var (uri, options) in Buckets(bucket, pipeline))
        {
            Manifest manifest;
            try
            {
                manifest = await client.ManifestAsync(uri, options, cancellationToken);
            }
            catch (Exception e) when (every && IsUserError(e))
            {
                answers.Add((uri, null, e.Message));
                continue;
            }
            if (PipeClient.IsWritten(manifest)) answers.Add((uri, manifest, null));
            else if (every) answers.Add((uri, manifest, PipeClient.NoManifest(uri)));
            else throw new FailedException(PipeClient.NoManifest(uri));
        }
        return answers;
    }

    /// <summary>
    /// The buckets a manifest tool reads: the one named, the pipeline's, or every pipeline's (each once). A bucket and a
    /// pipeline given together must agree: the pipeline was ignored, so a caller naming another pipeline's bucket (or an
    /// unknown pipeline) read that bucket's tables as if they were the pipeline's.
    /// </summary>
    private List<(string Uri, IReadOnlyDictionary<string, string>? Options)> Buckets(string? bucket, string? pipeline)
    {
        if (pipeline is not null)
        {
            var p = client.Load(pipeline);
            if (bucket is not null && bucket.TrimEnd('/') != p.Destination.Bucket.TrimEnd('/'))
                throw new ArgumentException($"bucket '{bucket}' is not the bucket of pipeline '{pipeline}' ({p.Destination.Bucket}): give one of them");
            return [(p.Destination.Bucket, p.Destination.StorageOptions)];
        }
        if (bucket is not null) return [(bucket, null)];
        var all = new List<(string, IReadOnlyDictionary<string, string>?)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in client.Pipelines())
        {
            PipelineDefinition p;
            try { p = client.Load(name); }
            catch (ConfigException) { continue; }
            if (seen.Add(p.Destination.Bucket)) all.Add((p.Destination.Bucket, p.Destination.StorageOptions));
        }
        return all;
    }

    /// <summary>The application layer's own message for an unknown name.</summary>
    private string Unknown(string name)
    {
        try { client.Load(name); }
        catch (ConfigException e) { return e.Message; }
        return $"pipeline '{name}' has no status";
    }

    /// <summary>Reports on the caller's thread (Progress&lt;T&gt; would post to the thread pool and reorder notifications).</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}

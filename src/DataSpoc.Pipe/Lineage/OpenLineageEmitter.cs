using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources;

namespace DataSpoc.Pipe.Lineage;

/// <summary>
/// Emits a run's OpenLineage events: <c>START</c> when it starts, then <c>COMPLETE</c> (with one output dataset per table
/// written: schema, rows, bytes, files) or <c>FAIL</c> (with the error), or <c>ABORT</c> for a cancelled run; every text of
/// an event masked with the run's secrets. Delivery that fails or takes
/// longer than the configured timeout throws a message the runner turns into a run-log notice; the run goes on.
/// </summary>
public sealed class OpenLineageEmitter : IRunObserver
{
    // One client for the process: sockets are pooled, and the timeout is applied per event.
    private static readonly HttpClient Http = new() { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
    private readonly OpenLineageSettings _settings;
    private readonly TimeProvider _time;
    private readonly string _producer = "https://github.com/dataspoc/dataspoc-pipe-dotnet/tree/v" + Uri.EscapeDataString(ToolVersion.Release);

    public OpenLineageEmitter(OpenLineageSettings settings, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Transport == "http" && settings.Url is null) throw new ArgumentException("the http transport needs a URL", nameof(settings));
        if (settings.Transport == "file" && settings.FilePath is null) throw new ArgumentException("the file transport needs a path", nameof(settings));
        _settings = settings;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The emitter a home folder's <c>config.yaml</c> and the environment configure; empty when lineage is off.</summary>
    /// <exception cref="ConfigException">The <c>openlineage</c> block or an <c>OPENLINEAGE_*</c> variable is invalid.</exception>
    public static IReadOnlyList<IRunObserver> ForHome(PipeHome home, Func<string, string?>? environment = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(home);
        return OpenLineageSettings.Load(home.ConfigPath, environment) is { } settings ? [new OpenLineageEmitter(settings, time)] : [];
    }

    /// <summary>The OpenLineage run id of a run: a UUID (the spec's format) made from its start time and its run id, so every event of one run carries the same one.</summary>
    public static Guid LineageRunId(RunStart run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var uuid = Guid.CreateVersion7(run.StartedAt).ToByteArray(bigEndian: true);
        // Version 7 keeps 48 bits of milliseconds, then 74 random bits: those become a hash of the pipeline and run id.
        var hash = System.IO.Hashing.XxHash128.Hash(System.Text.Encoding.UTF8.GetBytes(run.Pipeline.Name + "\n" + run.RunId));
        for (var i = 6; i < 16; i++) uuid[i] = hash[i];
        uuid[6] = (byte)(0x70 | (uuid[6] & 0x0F));
        uuid[8] = (byte)(0x80 | (uuid[8] & 0x3F));
        return new Guid(uuid, bigEndian: true);
    }

    public Task RunStartedAsync(RunStart run, CancellationToken cancellationToken) =>
        SendAsync(Event("START", run, [], null), run.Redactor, cancellationToken);

    public Task RunFinishedAsync(RunStart run, RunLog log, IReadOnlyList<TableOutput> tables, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(log);
        var failed = log.Status != "success";
        // OpenLineage's ABORT is a run stopped from outside (a signal, a cancelled token), FAIL one that went wrong.
        var type = !failed ? "COMPLETE" : log.Status == "cancelled" ? "ABORT" : "FAIL";
        return SendAsync(Event(type, run, failed ? [] : tables, failed ? log.Error ?? "the run failed" : null), run.Redactor, cancellationToken);
    }

    private RunEvent Event(string type, RunStart run, IReadOnlyList<TableOutput> tables, string? error) => new()
    {
        EventType = type,
        EventTime = _time.GetUtcNow(),
        Producer = _producer,
        Run = new LineageRun
        {
            RunId = LineageRunId(run).ToString(),
            Facets = new RunFacets
            {
                ProcessingEngine = new ProcessingEngineFacet(_producer) { Name = "dataspoc-pipe", Version = ToolVersion.Current, AdapterVersion = ToolVersion.Current },
                ErrorMessage = error is null ? null : new ErrorMessageFacet(_producer) { Message = error },
            },
        },
        Job = new LineageJob
        {
            Namespace = _settings.Namespace,
            Name = run.Pipeline.Name,
            Facets = new JobFacets { JobType = new JobTypeFacet(_producer) },
        },
        // The source as one dataset: a Singer tap is known by its name, not by the system behind it.
        Inputs = [new LineageDataset { Namespace = "singer", Name = run.SourceName }],
        Outputs = tables.Select(t => new LineageDataset
        {
            Namespace = t.Bucket,
            Name = t.Path,
            Facets = new DatasetFacets
            {
                Schema = new SchemaFacet(_producer) { Fields = t.Columns.Select((c, i) => new SchemaField(c.Name, c.Type, i + 1)).ToList() },
                Storage = new StorageFacet(_producer),
            },
            OutputFacets = new OutputDatasetFacets
            {
                OutputStatistics = new OutputStatisticsFacet(_producer) { RowCount = t.Rows, Size = t.Bytes, FileCount = t.Files },
            },
        }).ToList(),
    };

    private async Task SendAsync(RunEvent e, Redactor redactor, CancellationToken cancellationToken)
    {
        var json = Masked(e, redactor);
        var what = $"OpenLineage: the {e.EventType} event was not delivered to {_settings.ShownTarget}";
        if (_settings.Transport == "file")
        {
            await AppendLineAsync(json, what, cancellationToken).ConfigureAwait(false);
            return;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_settings.Timeout);
        using var request = new HttpRequestMessage(HttpMethod.Post, _settings.EventsUrl) { Content = new ByteArrayContent(json) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (_settings.ApiKey is { } key) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        try
        {
            using var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw new LineageDeliveryException($"{what}: the collector answered {(int)response.StatusCode} {response.ReasonPhrase}");
        }
        catch (OperationCanceledException x) when (!cancellationToken.IsCancellationRequested)
        {
            throw new LineageDeliveryException($"{what}: no answer within {_settings.Timeout.TotalSeconds:0.###}s", x);
        }
        catch (HttpRequestException x)
        {
            throw new LineageDeliveryException($"{what}: {x.Message}", x);
        }
    }

    /// <summary>
    /// The event as JSON with the pipeline's secrets masked in every text it holds, as the run log masks them: a
    /// <c>${VAR}</c> or <c>.env</c> value can reach the bucket URI (the outputs' namespace), the tap command (the input's
    /// name), column names and the error. The fields this emitter formats itself (time, run id, producer and schema
    /// URLs) hold nothing of the configuration and keep their spec format.
    /// </summary>
    private static byte[] Masked(RunEvent e, Redactor redactor)
    {
        var node = JsonSerializer.SerializeToNode(e, OpenLineageJsonContext.Default.RunEvent)!;
        Mask(node, redactor);
        return JsonSerializer.SerializeToUtf8Bytes(node, OpenLineageJsonContext.Default.JsonNode);

        static void Mask(JsonNode? node, Redactor redactor)
        {
            switch (node)
            {
                case JsonObject o:
                    foreach (var (key, value) in o.ToList())
                    {
                        if (value is JsonValue v && v.TryGetValue<string>(out var text)) { if (!Formatted.Contains(key)) o[key] = redactor.Redact(text); }
                        else Mask(value, redactor);
                    }
                    break;
                case JsonArray a:
                    for (var i = 0; i < a.Count; i++)
                    {
                        if (a[i] is JsonValue v && v.TryGetValue<string>(out var text)) a[i] = redactor.Redact(text);
                        else Mask(a[i], redactor);
                    }
                    break;
            }
        }
    }

    private static readonly HashSet<string> Formatted = new(StringComparer.Ordinal) { "eventTime", "runId", "producer", "_producer", "_schemaURL", "schemaURL", "eventType" };

    /// <summary>
    /// Appends one event as one line. .NET's <see cref="FileMode.Append"/> only seeks to the end when the file is opened
    /// (no <c>O_APPEND</c>), so two writers that open before either writes (runs of <c>run --all --parallel</c>, two
    /// processes) would write at the same offset and one event would overwrite the other. Each event therefore holds the
    /// file alone (<see cref="FileShare.None"/>: an exclusive <c>flock</c> on Unix, a share lock on Windows) from the open,
    /// which finds the end, to the last byte; a writer that finds it held tries again until the transport's timeout.
    /// </summary>
    private async Task AppendLineAsync(byte[] json, string what, CancellationToken cancellationToken)
    {
        var line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var wait = 1; ; wait = Math.Min(wait * 2, 50))
        {
            FileStream file;
            try
            {
                file = new FileStream(_settings.FilePath!, FileMode.Append, FileAccess.Write, FileShare.None, bufferSize: 0);
            }
            catch (IOException x) when (IsHeldByAnotherWriter(x) && System.Diagnostics.Stopwatch.GetElapsedTime(started) < _settings.Timeout)
            {
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                continue;
            }
            catch (Exception x) when (x is IOException or UnauthorizedAccessException)
            {
                throw new LineageDeliveryException(IsHeldByAnotherWriter(x)
                    ? $"{what}: the file stayed locked by another writer for {_settings.Timeout.TotalSeconds:0.###}s"
                    : $"{what}: {x.Message}", x);
            }
            try
            {
                await using (file) await file.WriteAsync(line, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (IOException x)
            {
                throw new LineageDeliveryException($"{what}: {x.Message}", x);
            }
        }
    }

    /// <summary>The open failed because another writer holds the file: EWOULDBLOCK from <c>flock</c> (11 on Linux, 35 on macOS), or a Windows sharing violation.</summary>
    private static bool IsHeldByAnotherWriter(Exception x) =>
        x.GetType() == typeof(IOException) && (x.HResult is 11 or 35 || x.HResult == unchecked((int)0x80070020));
}

/// <summary>An OpenLineage event could not be delivered (the run goes on; the message lands in its run log).</summary>
public sealed class LineageDeliveryException(string message, Exception? inner = null) : PipeException(message, inner);

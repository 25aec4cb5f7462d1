using System.ComponentModel;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Cli.Infrastructure;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Commands;

/// <summary><c>run &lt;name&gt; [--full]</c> / <c>run --all [--parallel N]</c>: runs pipelines, shows progress and a summary; exit 1 if any failed.</summary>
internal sealed class RunCommand : AsyncCommand<RunCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "[NAME]")]
        [Description("The pipeline to run")]
        public string? Name { get; init; }

        [CommandOption("--all")]
        [Description("Run every pipeline in the home folder")]
        public bool All { get; init; }

        [CommandOption("--full")]
        [Description("Full refresh: ignore saved state and replace the tables this run writes")]
        public bool Full { get; init; }

        [CommandOption("--parallel <N>")]
        [Description("With [green]--all[/]: how many pipelines run at once")]
        [DefaultValue(1)]
        public int Parallel { get; init; } = 1;

        [CommandOption("--part <I/N>")]
        [Description("Read only key range I of N of a split table (source.split) and stage it; [green]auto[/] takes I from JOB_COMPLETION_INDEX")]
        public string? Part { get; init; }

        [CommandOption("--split-run <ID>")]
        [Description("With [green]--part[/] or [green]--commit-parts[/]: the id every worker of one split run shares (default: env DATASPOC_SPLIT_RUN)")]
        public string? SplitRun { get; init; }

        [CommandOption("--commit-parts")]
        [Description("Land the staged parts of a split run in one commit (when its last part could not)")]
        public bool CommitParts { get; init; }

        [CommandOption("--rotate-log <FILE>")]
        [Description("FILE is where this run's output is appended (the crontab line of [green]schedule install[/] passes its log, in <home>/logs/; no other file is touched): over 10 MiB, it is first moved to FILE.1 (replacing the one before) and emptied")]
        public string? RotateLog { get; init; }

        /// <summary>
        /// Why these options do not go together, or null. Checked in <see cref="ExecuteAsync"/> rather than in
        /// <c>Validate</c>, so <c>--output json</c> gets the document of a run that did not start for them too.
        /// <paramref name="arguments"/> is the command line: whether <c>--parallel</c> was given, which its default hides.
        /// </summary>
        public string? UsageProblem(IReadOnlyList<string> arguments)
        {
            if (All == (Name is not null)) return "give a pipeline name or --all (not both)";
            if ((Part is not null || CommitParts) && All) return "--part and --commit-parts work on one pipeline, not --all";
            if (Part is not null && CommitParts) return "give --part (read one part) or --commit-parts (commit them all), not both";
            // Alone it would be ignored: the run would read the whole table and replace it outside the split run.
            if (SplitRun is not null && Part is null && !CommitParts)
                return "--split-run names the split run of --part or --commit-parts: give one of them (without, the run reads the whole table)";
            // Alone it would be ignored too: one pipeline runs by itself.
            if (!All && arguments.Any(a => a == "--parallel" || a.StartsWith("--parallel=", StringComparison.Ordinal) || a.StartsWith("--parallel:", StringComparison.Ordinal))) return "--parallel sets how many pipelines of --all run at once: give --all, or leave --parallel out";
            if (Parallel < 1) return "--parallel must be at least 1";
            return null;
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        try
        {
            if (settings.UsageProblem(context.Arguments) is { } problem) throw new UsageException(problem);
            return await RunAsync(settings, cancellationToken);
        }
        catch (Exception e) when (settings.Json && e is not OperationCanceledException)
        {
            // The run did not start (invalid config, lock held, bucket unreachable; for --all, a home without pipelines or
            // an unreadable one): a JSON reader still gets a document, shaped as run --all reports a pipeline it did not
            // run (for --all, with no pipeline named); stderr and the exit code stay ErrorReport's.
            JsonOutput.Write(ErrorReport.NotRun(settings.Name, e));
            throw;
        }
    }

    private static async Task<int> RunAsync(Settings settings, CancellationToken cancellationToken)
    {
        if (settings.RotateLog is { } output && CronEntries.RotateOutput(output, Pipelines.Home()) is { } rotationProblem)
            Console.Error.WriteLine("warning: " + rotationProblem);
        var otlp = OtlpTelemetry.StartFromEnvironment();
        using var telemetry = otlp.Telemetry;
        // Said once for the command, and in each run's log, where a scheduled run's output is read.
        if (otlp.Problem is { } telemetryProblem) Console.Error.WriteLine("warning: " + telemetryProblem);
        string[] notices = otlp.Problem is null ? [] : [otlp.Problem];
        var client = Pipelines.Client();
        var names = settings.All ? Pipelines.All(client) : [settings.Name!];
        // Every pipeline is loaded before anything runs. One pipeline's config error is a usage error (exit 2) that runs
        // nothing; under --all the others still run (one broken file must not stop every pipeline), the broken ones are
        // reported with their error, and the exit code is still 2.
        var invalid = new List<Outcome>();
        var pipelines = new List<PipelineDefinition>();
        foreach (var name in names)
        {
            try
            {
                pipelines.Add(client.Load(name));
            }
            catch (PipeException e) when (settings.All && e.Kind == PipeErrorKind.Usage)
            {
                invalid.Add(new Outcome(name, null, e.Message, Invalid: true) { Shown = client.ShownName(name) });
            }
        }

        var part = settings.Part is null ? null : SplitArguments.Part(settings.Part, SplitArguments.RunId(settings.SplitRun), pipelines.Single());
        if (settings.CommitParts)
        {
            var committed = await client.CommitPartsAsync(pipelines.Single(), SplitArguments.RunId(settings.SplitRun), cancellationToken);
            return Report([new Outcome(pipelines.Single().Name, committed.Log, committed.Log.Error)], settings, null);
        }
        var display = new RunDisplay(RunDisplay.Choose(settings.Json));
        using var signals = new StopSignals(cancellationToken);
        var outcomes = await display.ShowWhileAsync(() => RunAllAsync(client, pipelines, settings, part, notices, display, signals.Token));
        return Report([.. outcomes, .. invalid], settings, signals);
    }

    private static int Report(List<Outcome> unordered, Settings settings, StopSignals? signals)
    {
        var outcomes = unordered.OrderBy(o => o.Name, StringComparer.Ordinal).ToList();
        // Said on stderr too, whatever the output: stdout may be a JSON document that no one reads for its notices.
        foreach (var o in outcomes.Where(o => o.Log is not null))
            foreach (var warning in o.Log!.Warnings) Console.Error.WriteLine($"warning: {o.Name}: {warning}");
        try
        {
            if (settings.Json)
            {
                var logs = outcomes.Select(o => o.Log is null
                    ? Status(ErrorReport.NotRun(o.Name, o.Invalid, o.Error), o.Status)
                    : JsonNode.Parse(LakeJson.Serialize(o.Log))!);
                JsonOutput.Write(settings.All ? new JsonArray(logs.ToArray()) : logs.Single());
            }
            else
            {
                WriteSummary(outcomes, detailed: !settings.All);
            }
        }
        catch (IOException e)
        {
            // The runs are over (committed or not) and their logs are in the bucket: a report that cannot be written (a full
            // disk) does not change what they did, so the exit code stays theirs; a scheduler that retried a committed run
            // would land its data twice. Said on stderr (a broken pipe never gets here: the writer ignores it).
            Console.Error.WriteLine($"error: {Ended(outcomes)} but {(outcomes.Count == 1 ? "its" : "their")} output could not be written to stdout: {e.Message}");
        }
        var failed = outcomes.Where(o => o.Log?.Status != "success").ToList();
        foreach (var f in failed)
            Console.Error.WriteLine(f.Invalid
                ? f.Log is { } stopped
                    // It began (its run log says so, and status shows it as the latest run); no data moved.
                    ? $"error: {f.Shown} stopped on its configuration before any data moved (run {stopped.RunId}): {f.Error}"
                    : $"error: {f.Shown} was not run: {f.Error}"
                : $"error: {f.Name} {(f.Status == "cancelled" ? "was cancelled" : "failed")}: {f.Error}");
        if (signals?.ExitCode is { } signal)
        {
            // A signal that came once every run's commit had begun stopped nothing: the commits ran to their end (they are
            // never left half-way), so the runs succeeded and exit as such; a signal exit code would report a failure.
            if (failed.Count > 0) return signal;
            Console.Error.WriteLine(outcomes.Count == 1
                ? $"{signals.Name} came after the commit had begun: the commit finished and the run succeeded"
                : $"{signals.Name} came after every run's commit had begun: the commits finished and the runs succeeded");
        }
        return failed.Count == 0 ? ExitCodes.Success : failed.Any(f => f.Invalid) ? ExitCodes.Usage : ExitCodes.Failed;
    }

    private static JsonObject Status(JsonObject notRun, string status)
    {
        notRun["status"] = status;
        return notRun;
    }

    /// <summary>How the runs ended, for the line that says their report was lost: <c>the run succeeded (run 3f9a1c2e)</c>.</summary>
    private static string Ended(List<Outcome> outcomes)
    {
        static string Of(Outcome o) => o.Log is { } log
            ? $"{(log.Status switch { "success" => "succeeded", "cancelled" => "was cancelled", _ => "failed" })} (run {log.RunId})"
            : $"was not run ({o.Status})";
        return outcomes.Count == 1
            ? "the run " + Of(outcomes[0])
            : "the runs ended (" + string.Join(", ", outcomes.Select(o => $"{o.Name} {Of(o)}")) + ")";
    }

    /// <summary>
    /// A pipeline's run, or why it did not run (<c>Invalid</c>: its configuration did not load, or its run stopped on it;
    /// <c>Cancelled</c>: a signal came before it started).
    /// </summary>
    private sealed record Outcome(string Name, RunLog? Log, string? Error, bool Invalid = false, bool Cancelled = false)
    {
        /// <summary>The name the summary and stderr show: a file whose name is not a pipeline name by its file (<see cref="PipeClient.ShownName"/>).</summary>
        public string Shown { get; init; } = Name;

        /// <summary>The status the summary and the JSON document show.</summary>
        public string Status => Log?.Status ?? (Invalid ? "invalid" : Cancelled ? "cancelled" : "failure");
    }

    private static async Task<List<Outcome>> RunAllAsync(PipeClient client, List<PipelineDefinition> pipelines, Settings settings, SplitPart? part, IReadOnlyList<string> notices, RunDisplay display, CancellationToken cancellationToken)
    {
        using var gate = new SemaphoreSlim(settings.Parallel);
        var tasks = pipelines.Select(async pipeline =>
        {
            try
            {
                await gate.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Stopped while waiting for its turn (--parallel): nothing of it ran, and it holds no slot to release. It is
                // still reported, so the summary and the JSON array list every pipeline and the exit code is the signal's.
                return new Outcome(pipeline.Name, null, "the run was cancelled before it started", Cancelled: true);
            }
            try
            {
                display.Started(pipeline.Name);
                var options = new RunOptions { Full = settings.Full, Progress = display.For(pipeline.Name), Part = part, Notices = notices };
                var result = await client.RunPipelineAsync(pipeline, options, cancellationToken);
                // A run that stopped on its configuration ran nothing: reported as an invalid pipeline (exit 2).
                return new Outcome(pipeline.Name, result.Log, result.Log.Error, Invalid: result.ErrorKind == PipeErrorKind.Usage);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Stopped before this pipeline could start (waiting for its lock): nothing of it ran.
                return new Outcome(pipeline.Name, null, "the run was cancelled before it started", Cancelled: true);
            }
            catch (Exception e) when (e is not OperationCanceledException && settings.All)
            {
                // With --all, one pipeline that cannot start (locked, bad bucket) must not stop the others.
                return new Outcome(pipeline.Name, null, PipelineSecrets.Of(pipeline).Redact(e.Message));
            }
            finally
            {
                gate.Release();
            }
        });
        return [.. await Task.WhenAll(tasks)];
    }

    private static void WriteSummary(List<Outcome> outcomes, bool detailed)
    {
        if (detailed && outcomes.Single().Log is { Streams.Count: > 0 } single)
        {
            var streams = new Table().AddColumns("stream", "records", "rejected", "files", "bytes");
            foreach (var (name, s) in single.Streams)
                streams.AddRow(Markup.Escape(name), Units.Count(s.Records), Units.Count(s.Rejected), Units.Count(s.Files), Units.Bytes(s.Bytes));
            AnsiConsole.Write(streams);
        }
        var table = new Table().AddColumns("pipeline", "status", "mode", "duration", "records", "files", "bytes");
        foreach (var o in outcomes)
        {
            var log = o.Log;
            // A run that did not succeed landed no file: the files it wrote before failing are in its run log, not the table.
            var landed = log?.Status == "success";
            table.AddRow(Markup.Escape(o.Shown), landed ? "[green]success[/]" : $"[red]{o.Status}[/]", log?.Mode ?? "-",
                log is null ? "-" : Units.Duration(log.DurationSeconds), log is null ? "-" : Units.Count(log.TotalRecords),
                landed ? Units.Count(log!.Streams.Values.Sum(s => s.Files)) : "-", landed ? Units.Bytes(log!.Streams.Values.Sum(s => s.Bytes)) : "-");
        }
        AnsiConsole.Write(table);
        foreach (var o in outcomes.Where(o => o.Log is not null))
            AnsiConsole.MarkupLineInterpolated($"{o.Name}: run {o.Log!.RunId} (dataspoc-pipe logs {o.Name} --run {o.Log.RunId})");
        foreach (var o in outcomes.Where(o => o.Log is { Notices.Count: > 0 }))
            foreach (var notice in o.Log!.Notices) AnsiConsole.MarkupLineInterpolated($"[yellow]note[/] {o.Name}: {notice}");
    }
}

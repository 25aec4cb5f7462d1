using System.ComponentModel;
using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Cli.Infrastructure;
using DataSpoc.Pipe.Config;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Commands;

/// <summary>
/// <c>maintain &lt;name&gt; [--expire-older-than 7d] [--compact [--target-file-mb 128]]</c>: compact a pipeline's small files,
/// expire its Iceberg/Delta snapshots and delete the files only they read.
/// </summary>
internal sealed class MaintainCommand : AsyncCommand<MaintainCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<NAME>")]
        [Description("The pipeline whose tables to maintain: compaction for every table, snapshot and file expiry for those with table_format iceberg and/or delta")]
        public string Name { get; init; } = "";

        [CommandOption("--expire-older-than <DURATION>")]
        [Description("Expire snapshots (Iceberg) and removed files (Delta) older than this: [green]7d[/], [green]12h[/], [green]30m[/]. The current snapshot is always kept")]
        [DefaultValue("7d")]
        public string ExpireOlderThan { get; init; } = "7d";

        [CommandOption("--compact")]
        [Description("First compact every table of the pipeline: per partition, files below --target-file-mb are rewritten into files of about that size (an Iceberg [green]replace[/] snapshot, a Delta [green]dataChange: false[/] commit; plain Parquet tables lose the rewritten files in the same commit)")]
        public bool Compact { get; init; }

        [CommandOption("--target-file-mb <MB>")]
        [Description("With --compact: the size compacted files aim at; smaller files are compacted (default 128)")]
        public int? TargetFileMb { get; init; }

        [CommandOption("--rotate-log <FILE>")]
        [Description("FILE is where this maintain's output is appended (the maintain line of [green]schedule install[/] passes the pipeline's log, in <home>/logs/; no other file is touched): over 10 MiB, it is first moved to FILE.1 (replacing the one before) and emptied")]
        public string? RotateLog { get; init; }

        public override ValidationResult Validate()
        {
            var output = base.Validate();
            if (!output.Successful) return output;
            if (Tables.CompactionDefaults.TargetWithoutCompactionProblem(TargetFileMb, Compact, "--compact") is { } compaction)
                return ValidationResult.Error($"--target-file-mb: {compaction}");
            if (TargetFileMb < 1) return ValidationResult.Error($"--target-file-mb: {TargetFileMb} is not a size; give at least 1 (MB)");
            return Durations.Problem(ExpireOlderThan, "7d, 12h, 30m") is { } problem ? ValidationResult.Error($"--expire-older-than: {problem}") : ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        try
        {
            return await MaintainAsync(settings, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A maintain that failed may have done part of its work (a compaction whose files landed, an expiry whose
            // deletions are left): its notes say what, and that the next run or maintain completes it, as a run's do. A
            // JSON reader gets a document, shaped as run's (status, error, failed_step, notices); stderr and the exit code stay ErrorReport's.
            if (settings.Json) JsonOutput.Write(ErrorReport.MaintainFailed(settings.Name, e));
            else WriteNotices(settings.Name, Tables.PipelineMaintenance.NoticesOf(e));
            throw;
        }
    }

    private static void WriteNotices(string pipeline, IEnumerable<string> notices)
    {
        foreach (var notice in notices) AnsiConsole.MarkupLineInterpolated($"[yellow]note[/] {pipeline}: {notice}");
    }

    private static async Task<int> MaintainAsync(Settings settings, CancellationToken cancellationToken)
    {
        Durations.TryParse(settings.ExpireOlderThan, out var olderThan);
        // Scheduled (schedule.maintain): the pipeline's log, shared with its runs, is rotated as a run rotates it, and
        // each maintain's output starts with a dated line, as a run's does.
        if (settings.RotateLog is { } output)
        {
            if (CronEntries.RotateOutput(output, Pipelines.Home()) is { } rotationProblem) Console.Error.WriteLine("warning: " + rotationProblem);
            if (!settings.Json) Console.Out.WriteLine($"{settings.Name}: maintain started {DateTimeOffset.UtcNow:u}");
        }
        var client = Pipelines.Client();
        var results = await client.MaintainAsync(settings.Name, olderThan, settings.Compact ? settings.TargetFileMb ?? Tables.CompactionDefaults.TargetFileMb : null, cancellationToken);
        if (settings.Json)
        {
            JsonOutput.Write(results.ToJson());
            return ExitCodes.Success;
        }
        WriteNotices(settings.Name, results.Notices);
        if (results.Count == 0)
        {
            // Exit 0 as when only some tables were skipped: the notes above say why, and the next maintain retries them.
            if (results.Skipped.Count > 0)
                AnsiConsole.MarkupLineInterpolated($"pipeline {settings.Name}: no table was maintained: {string.Join(", ", results.Skipped)} skipped (the notes above say why); run maintain again");
            else if (settings.Compact) AnsiConsole.MarkupLineInterpolated($"pipeline {settings.Name} has no tables yet: nothing to maintain");
            else AnsiConsole.MarkupLineInterpolated($"pipeline {settings.Name} has no tables with table_format iceberg or delta: nothing to maintain");
            return ExitCodes.Success;
        }
        static string N(int n) => n.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var table = new Table().AddColumns("table", "expired snapshots", "kept snapshots", "deleted files", "deleted log files");
        if (settings.Compact) table.AddColumns("compacted files", "written files");
        foreach (var r in results)
            table.AddRow([Markup.Escape(r.Table), N(r.ExpiredSnapshots), N(r.KeptSnapshots), N(r.DeletedFiles.Count), N(r.DeletedLogFiles),
                .. settings.Compact ? new[] { N(r.CompactedFiles), N(r.WrittenFiles) } : []]);
        AnsiConsole.Write(table);
        return ExitCodes.Success;
    }
}

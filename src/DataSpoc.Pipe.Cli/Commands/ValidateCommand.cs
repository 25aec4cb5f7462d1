using System.ComponentModel;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Cli.Infrastructure;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Commands;

/// <summary>
/// <c>validate [name]</c>: the pipeline YAML (errors with file:line), the tap config JSON, that the tap resolves and
/// answers <c>--help</c> or <c>--about</c>, and that the bucket allows write, read, list and delete. Exit 1 on any failure.
/// Every <c>${VAR}</c> must be set (environment or the home's <c>.env</c>) or have a default; for a scheduled pipeline, one
/// only the current shell sets is a warning, as <c>schedule install</c> gives.
/// </summary>
internal sealed class ValidateCommand : AsyncCommand<ValidateCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "[NAME]")]
        [Description("The pipeline to check (default: every pipeline)")]
        public string? Name { get; init; }
    }

    private sealed record Check(string Pipeline, string Name, bool Ok, string Detail, bool Warning = false);

    private static readonly TimeSpan TapAnswerTimeout = TimeSpan.FromSeconds(30);

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var home = Pipelines.Home();
        IReadOnlyList<string> names;
        if (settings.Name is { } one)
        {
            if (home.FindPipelineFile(one) is null) throw Pipelines.Unknown(home, one);
            names = [one];
        }
        else names = Pipelines.All(home);

        var loader = PipelineLoader.ForHome(home, allowUnsetVariables: true);
        var checks = new List<Check>();
        foreach (var name in names)
            checks.AddRange(await CheckAsync(loader, home, name, cancellationToken));

        if (settings.Json)
        {
            JsonOutput.Write(new JsonArray(names.Select(n => (JsonNode)new JsonObject
            {
                ["pipeline"] = n,
                ["ok"] = checks.Where(c => c.Pipeline == n).All(c => c.Ok),
                ["checks"] = new JsonArray(checks.Where(c => c.Pipeline == n).Select(c =>
                {
                    var check = new JsonObject { ["check"] = c.Name, ["ok"] = c.Ok, ["detail"] = c.Detail };
                    if (c.Warning) check["warning"] = true;
                    return (JsonNode)check;
                }).ToArray()),
            }).ToArray()));
        }
        else
        {
            var table = new Table().AddColumns("pipeline", "check", "result", "detail");
            var room = TableCells.Room(4, TableCells.Widest("pipeline", checks.Select(c => c.Pipeline)) + TableCells.Widest("check", checks.Select(c => c.Name)) + "warning".Length);
            foreach (var c in checks)
                table.AddRow(Markup.Escape(c.Pipeline), c.Name, c.Warning ? "[yellow]warning[/]" : c.Ok ? "[green]ok[/]" : "[red]FAILED[/]",
                    Markup.Escape(TableCells.OneLine(c.Detail, room)));
            AnsiConsole.Write(table);
            if (checks.Any(c => !c.Ok || c.Warning)) AnsiConsole.MarkupLine("Full messages: dataspoc-pipe validate --output json");
        }
        var failed = checks.Where(c => !c.Ok).Select(c => c.Pipeline).Distinct().ToList();
        if (failed.Count > 0)
        {
            Console.Error.WriteLine($"error: validation failed for {string.Join(", ", failed)}");
            return ExitCodes.Failed;
        }
        return ExitCodes.Success;
    }

    private static async Task<List<Check>> CheckAsync(PipelineLoader loader, PipeHome home, string name, CancellationToken cancellationToken)
    {
        var checks = new List<Check>();
        PipelineDefinition pipeline;
        try
        {
            pipeline = loader.LoadFile(home.FindPipelineFile(name)!);
        }
        catch (ConfigException e)
        {
            // A broken tap config file is reported by the loader too (with its file and line).
            var check = e.File is { } f && f.EndsWith(".json", StringComparison.Ordinal) ? "tap config" : "config";
            checks.Add(new Check(name, check, false, e.Message));
            return checks;
        }
        checks.Add(new Check(name, "config", true, pipeline.FilePath + (pipeline.Schedule?.Cron is { } c ? $" (schedule '{c}' valid)" : "")));
        if (VariablesCheck(loader, home, pipeline) is { } variables) checks.Add(variables);
        checks.Add(new Check(name, "tap config", true,
            pipeline.Source.ConfigFile is { } file ? $"{file} is valid JSON" : pipeline.Source.InlineConfig is not null ? "inline in the pipeline YAML" : "none (the tap gets an empty config)"));
        if (pipeline.Transforms.Count > 0)
        {
            var problems = Transforms.TransformCompiler.Validate(pipeline);
            checks.Add(problems.Count == 0
                ? new Check(name, "transforms", true, $"{pipeline.Transforms.Count} stream map(s) compile")
                : new Check(name, "transforms", false, string.Join("; ", problems.Select(p => p.Message))));
        }
        checks.Add(await CheckTapAsync(pipeline, cancellationToken));
        if (checks[^1].Ok) checks.Add(await CheckCatalogAsync(pipeline, cancellationToken));
        var probe = await BucketProbe.RunAsync(pipeline.Destination.Bucket, pipeline.Destination.StorageOptions, cancellationToken);
        checks.Add(new Check(name, "bucket", probe.Ok, pipeline.Redaction.Redact($"{pipeline.Destination.Bucket}: {probe.Detail}")));
        return checks;
    }

    /// <summary>Where each <c>${VAR}</c> comes from; fails on one set nowhere, warns on one a scheduled run would lack.</summary>
    private static Check? VariablesCheck(PipelineLoader loader, PipeHome home, PipelineDefinition pipeline)
    {
        if (pipeline.Variables.Count == 0) return null;
        var unset = VariableProblems.Unset(pipeline, home);
        if (unset.Count > 0) return new Check(pipeline.Name, "variables", false, string.Join("; ", unset.Select(p => p.Message)));
        if (pipeline.Schedule?.Cron is { Length: > 0 } && VariableProblems.ForSchedule(pipeline, home, loader.Variables) is { Count: > 0 } lacking)
            return new Check(pipeline.Name, "variables", true, string.Join("; ", lacking.Select(p => p.Message)), Warning: true);
        var origins = pipeline.Variables.DistinctBy(v => v.Name).Select(v => v.Name + (v.Origin switch
        {
            VariableOrigin.DotEnv => " from .env",
            VariableOrigin.Environment => " from the environment",
            _ => ": default",
        }));
        return new Check(pipeline.Name, "variables", true, string.Join(", ", origins));
    }

    private static async Task<Check> CheckTapAsync(PipelineDefinition pipeline, CancellationToken cancellationToken)
    {
        var tap = pipeline.Source.Tap;
        if (TapInvoker.IsBuiltIn(tap)) return new Check(pipeline.Name, "tap", true, $"'{tap}' is a built-in tap");
        string executable;
        try
        {
            executable = TapInvoker.ResolveExecutable(tap);
        }
        catch (TapNotFoundException e)
        {
            return new Check(pipeline.Name, "tap", false, e.Message);
        }
        var tried = new List<string>();
        foreach (var flag in new[] { "--help", "--about" })
        {
            try
            {
                var result = await TapAnswer.AskAsync(tap, [flag], TapAnswerTimeout, cancellationToken);
                if (result.ExitCode == 0) return new Check(pipeline.Name, "tap", true, $"{executable} answers {flag}");
                tried.Add($"{flag}: exit {result.ExitCode}{(result.StderrTail.Length > 0 ? " " + TapAnswer.LastLine(result.StderrTail) : "")}");
            }
            catch (Exception e) when (e is TapFailedException or TapNotFoundException)
            {
                tried.Add($"{flag}: {e.Message}");
            }
        }
        return new Check(pipeline.Name, "tap", false, pipeline.Redaction.Redact($"{executable} answers neither --help nor --about ({string.Join("; ", tried)})"));
    }

    /// <summary>How the tap gets its catalog, and that the selection (streams, replication, select) matches what it discovers.</summary>
    private static async Task<Check> CheckCatalogAsync(PipelineDefinition pipeline, CancellationToken cancellationToken)
    {
        try
        {
            var selection = await new TapCatalogs(Stores.Create()).SelectAsync(pipeline, !pipeline.Incremental.Enabled, cancellationToken);
            var flags = $"passed with {selection.Capabilities.FlagsText} (from {selection.Capabilities.Origin})";
            if (selection.Catalog is not { } catalog)
                return new Check(pipeline.Name, "catalog", true, selection.Capabilities.CanDiscover
                    ? "none needed: the built-in tap sends every stream"
                    : "none: the tap does not list --discover, so it runs without a catalog and sends what it sends");
            var streams = StreamCatalog.List(catalog).Where(e => e.Selected).Select(e => e.Stream == e.TapStreamId ? e.Stream : $"{e.TapStreamId} (stream {e.Stream})").ToList();
            return new Check(pipeline.Name, "catalog", true, $"selects {streams.Count} stream(s): {string.Join(", ", streams)}; {flags}");
        }
        catch (Exception e) when (e is ConfigException or TapFailedException or TapNotFoundException)
        {
            return new Check(pipeline.Name, "catalog", false, pipeline.Redaction.Redact(e.Message));
        }
    }
}

using System.ComponentModel;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Cli.Infrastructure;
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

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var client = Pipelines.Client();
        var names = settings.Name is { } one ? [one] : Pipelines.All(client);
        var results = new List<PipelineValidation>();
        foreach (var name in names)
            results.Add(await client.ValidateAsync(name, cancellationToken));

        if (settings.Json)
        {
            JsonOutput.Write(new JsonArray(results.Select(r => (JsonNode)new JsonObject
            {
                ["pipeline"] = r.Pipeline,
                ["ok"] = r.Ok,
                ["checks"] = new JsonArray(r.Checks.Select(c =>
                {
                    var check = new JsonObject { ["check"] = c.Check, ["ok"] = c.Ok, ["detail"] = c.Detail };
                    if (c.Warning) check["warning"] = true;
                    return (JsonNode)check;
                }).ToArray()),
                // The located problems PipeClient returns (and the MCP tool answers), so a script finds the key and line to fix.
                ["problems"] = new JsonArray(r.Problems.Select(p => (JsonNode)new JsonObject
                {
                    ["key"] = p.Key, ["file"] = p.File, ["line"] = p.Line, ["message"] = p.Message,
                }).ToArray()),
            }).ToArray()));
        }
        else
        {
            var checks = results.SelectMany(r => r.Checks.Select(c => (r.Pipeline, Check: c))).ToList();
            var table = new Table().AddColumns("pipeline", "check", "result", "detail");
            var room = TableCells.Room(4, TableCells.Widest("pipeline", checks.Select(c => c.Pipeline)) + TableCells.Widest("check", checks.Select(c => c.Check.Check)) + "warning".Length);
            foreach (var (pipeline, c) in checks)
                table.AddRow(Markup.Escape(pipeline), c.Check, c.Warning ? "[yellow]warning[/]" : c.Ok ? "[green]ok[/]" : "[red]FAILED[/]",
                    Markup.Escape(TableCells.OneLine(c.Detail, room)));
            AnsiConsole.Write(table);
            if (checks.Any(c => !c.Check.Ok || c.Check.Warning)) AnsiConsole.MarkupLine("Full messages: dataspoc-pipe validate --output json");
        }
        var failed = results.Where(r => !r.Ok).Select(r => r.Pipeline).ToList();
        if (failed.Count > 0)
        {
            Console.Error.WriteLine($"error: validation failed for {string.Join(", ", failed)}");
            return ExitCodes.Failed;
        }
        return ExitCodes.Success;
    }
}

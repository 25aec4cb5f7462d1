using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>Settings of every command that prints data: <c>--output table|json</c>.</summary>
internal class OutputSettings : CommandSettings
{
    [CommandOption("-o|--output <FORMAT>")]
    [Description("Output format: [green]table[/] (for people) or [green]json[/] (for scripts)")]
    [DefaultValue("table")]
    public string Output { get; init; } = "table";

    public bool Json => Output == "json";

    public override ValidationResult Validate() =>
        Output is "table" or "json" ? ValidationResult.Success() : ValidationResult.Error($"--output must be table or json, not '{Output}'");
}

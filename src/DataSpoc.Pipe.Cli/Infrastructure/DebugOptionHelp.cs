using Spectre.Console;
using Spectre.Console.Cli;
using Spectre.Console.Cli.Help;
using Spectre.Console.Rendering;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// Spectre's help with a line for <c>--debug</c> under the root's: <see cref="EntryPoint"/> takes <c>--debug</c> off the
/// command line before Spectre parses it (any command takes it, anywhere), so no settings class declares it and Spectre
/// would never list it.
/// </summary>
internal sealed class DebugOptionHelp(ICommandAppSettings settings) : HelpProvider(settings)
{
    public const string Line = "Any command takes --debug (or DATASPOC_PIPE_DEBUG=1): an error then prints its stack trace too.";

    public override IEnumerable<IRenderable> GetFooter(ICommandModel model, ICommandInfo? command) =>
        command is null ? [.. base.GetFooter(model, command), Text.NewLine, new Text(Line), Text.NewLine] : base.GetFooter(model, command);
}

using System.ComponentModel;
using DataSpoc.Pipe.Runs;
using Spectre.Console;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// For <c>run</c>: pays first-use costs on a background thread while the main thread builds and parses the command
/// line (the second core is otherwise idle then): the type converters Spectre binds options with, the engine's YAML
/// and lake JSON, and the rendering of the summary table. Each is ~10-40 ms the first time; nothing is visible.
/// </summary>
internal static class StartupWarmUp
{
    public static void Start() => new Thread(Run) { IsBackground = true, Name = "warm-up" }.Start();

    private static void Run()
    {
        try
        {
            // In the order the main thread needs them.
            foreach (var type in new[] { typeof(string), typeof(int), typeof(bool) }) TypeDescriptor.GetConverter(type);
            PipelineRunner.WarmUp();
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(new StringWriter()) });
            console.Write(new Table().AddColumns("pipeline", "status").AddRow("warm-up", "[green]success[/]"));
        }
        catch (Exception)
        {
            // Only a head start: the main thread does the same work again and reports any real problem.
        }
    }
}

using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>The one place errors become output: a single line on stderr and an exit code; the stack trace only with <c>--debug</c>.</summary>
internal static class ErrorReport
{
    public static int Handle(Exception e, bool debug)
    {
        if (e is AggregateException { InnerExceptions.Count: 1 } a) e = a.InnerException!;
        var code = e switch
        {
            PipeException p => ExitCodes.For(p.Kind),
            CommandParseException or CommandRuntimeException => ExitCodes.Usage,
            OperationCanceledException => ExitCodes.Cancelled,
            _ => ExitCodes.Failed,
        };
        // A PipeException's message is written for the user; anything else is a bug or an unexpected system error.
        var message = e switch
        {
            OperationCanceledException => "cancelled",
            PipeException or CommandParseException or CommandRuntimeException => e.Message,
            _ => $"{e.Message} ({e.GetType().Name}; run with --debug for details)",
        };
        Console.Error.WriteLine("error: " + OneLine(message));
        if (debug) Console.Error.WriteLine(e.ToString());
        return code;
    }

    private static string OneLine(string text) => string.Join(' ', text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}

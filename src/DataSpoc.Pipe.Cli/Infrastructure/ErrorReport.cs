using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Storage;
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
            UsageException or ConfigException or CommandParseException or CommandRuntimeException or TapNotFoundException => ExitCodes.Usage,
            OperationCanceledException => 130,
            _ => ExitCodes.Failed,
        };
        var message = e switch
        {
            OperationCanceledException => "cancelled",
            FailedException or UsageException or ConfigException or StorageException or TapNotFoundException or CommandParseException or CommandRuntimeException => e.Message,
            _ => $"{e.Message} ({e.GetType().Name}; run with --debug for details)",
        };
        Console.Error.WriteLine("error: " + OneLine(message));
        if (debug) Console.Error.WriteLine(e.ToString());
        return code;
    }

    private static string OneLine(string text) => string.Join(' ', text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}

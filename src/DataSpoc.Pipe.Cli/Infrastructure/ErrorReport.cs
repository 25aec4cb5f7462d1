using System.Text.Json.Nodes;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>The one place errors become output: a single line on stderr and an exit code; the stack trace only with <c>--debug</c>.</summary>
internal static class ErrorReport
{
    public static int Handle(Exception e, bool debug)
    {
        Console.Error.WriteLine("error: " + Message(e));
        if (debug) Console.Error.WriteLine(e.ToString());
        return ExitCode(e);
    }

    /// <summary>The exit code an error ends the process with.</summary>
    public static int ExitCode(Exception e) => Unwrap(e) switch
    {
        PipeException p => ExitCodes.For(p.Kind),
        CommandParseException or CommandRuntimeException => ExitCodes.Usage,
        OperationCanceledException => ExitCodes.Cancelled,
        _ => ExitCodes.Failed,
    };

    /// <summary>The one line an error is reported as (after <c>error: </c> on stderr, or as a JSON document's <c>error</c>).</summary>
    public static string Message(Exception e)
    {
        e = Unwrap(e);
        // A PipeException's message is written for the user; anything else is a bug or an unexpected system error.
        return OneLine(e switch
        {
            OperationCanceledException => "cancelled",
            PipeException or CommandParseException or CommandRuntimeException => e.Message,
            _ when ResourceLimits.Describe(e) is { } limited => limited,
            _ => $"{e.Message} ({e.GetType().Name}; run with --debug for details)",
        });
    }

    /// <summary>
    /// The document of a run that did not start, as <c>run --output json</c> and the MCP tool <c>run_pipeline</c> answer it:
    /// <c>status</c> is <c>invalid</c> for a usage error (the pipeline's config: exit code 2) and <c>failure</c> otherwise
    /// (bucket unreachable, lock held), so a caller tells them apart without parsing the message.
    /// </summary>
    public static JsonObject NotRun(string? pipeline, Exception e) => NotRun(pipeline, ExitCode(e) == ExitCodes.Usage, Message(e));

    /// <inheritdoc cref="NotRun(string?, Exception)"/>
    public static JsonObject NotRun(string? pipeline, bool invalid, string? error) =>
        new() { ["pipeline"] = pipeline, ["status"] = invalid ? "invalid" : "failure", ["error"] = error };

    /// <summary>
    /// The document of a maintain that failed, as <c>maintain --output json</c> and the MCP tool <c>maintain_tables</c>
    /// answer it: shaped as run's (<see cref="NotRun(string?, Exception)"/>), with <c>failed_step</c> when it failed
    /// holding the pipeline's lock, and the notes of what it did and left (a compaction whose files landed, deletions an
    /// expiry left), which the next run or maintain completes.
    /// </summary>
    public static JsonObject MaintainFailed(string pipeline, Exception e)
    {
        var document = NotRun(pipeline, e);
        if (Tables.PipelineMaintenance.FailedStepOf(e) is { } step) document["failed_step"] = step;
        document["notices"] = new JsonArray([.. Tables.PipelineMaintenance.NoticesOf(e).Select(n => (JsonNode)JsonValue.Create(n))]);
        return document;
    }

    private static Exception Unwrap(Exception e) => e is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerException! : e;

    private static string OneLine(string text) => string.Join(' ', text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace DataSpoc.Pipe.Cli.Mcp;

/// <summary>
/// The MCP server's stderr lines: <c>level: category: message</c>, then the exception. The SDK logs every exception a
/// request handler ends with at warning level, a client's cancellation (<c>notifications/cancelled</c>, or the server
/// stopped by a signal) included, which is an ordinary end of a request: for it this writes the exception's one-line
/// message, not its stack trace. So does a request the protocol refuses (an unknown method or tool, bad parameters): the
/// client is answered with the error's code and message, and the server's stack is no part of that. Every other
/// exception (an internal error included) keeps its whole text.
/// </summary>
internal sealed class McpLogFormatter() : ConsoleFormatter(Name)
{
    public new const string Name = "dataspoc-pipe-mcp";

    public override void Write<TState>(in LogEntry<TState> logEntry, Microsoft.Extensions.Logging.IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        // The SDK logs a refused resource read or tool call twice: as an error of the primitive ("threw an unhandled
        // exception"), then as the request handler's warning. The warning is the refusal's one line.
        if (logEntry.LogLevel == LogLevel.Error && IsRefusal(logEntry.Exception)) return;
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null) return;
        textWriter.Write(Level(logEntry.LogLevel));
        textWriter.Write(": ");
        textWriter.Write(logEntry.Category);
        textWriter.Write(": ");
        textWriter.Write(message);
        if (logEntry.Exception is OperationCanceledException cancelled)
            textWriter.Write($" ({cancelled.GetType().Name}: {cancelled.Message})");
        else if (IsRefusal(logEntry.Exception))
        {
            var refused = (ModelContextProtocol.McpProtocolException)logEntry.Exception!;
            textWriter.Write($" ({refused.GetType().Name} {(int)refused.ErrorCode}: {refused.Message})");
        }
        else if (logEntry.Exception is { } exception)
        {
            textWriter.WriteLine();
            textWriter.Write(exception.ToString());
        }
        textWriter.WriteLine();
    }

    /// <summary>A request the protocol refuses (an unknown tool or resource, bad parameters), not a fault of the server.</summary>
    private static bool IsRefusal(Exception? exception) =>
        exception is ModelContextProtocol.McpProtocolException refused && refused.ErrorCode != ModelContextProtocol.McpErrorCode.InternalError;

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };
}

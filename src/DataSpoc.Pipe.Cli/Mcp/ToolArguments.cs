using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Api;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace DataSpoc.Pipe.Cli.Mcp;

/// <summary>
/// Checks a <c>tools/call</c>'s arguments against the tool's own input schema (the one <c>tools/list</c> shows) before
/// the SDK binds them to <see cref="PipeTools"/>' typed parameters. The SDK's binding throws on a missing, null or
/// mistyped argument, answers only "An error occurred invoking '&lt;tool&gt;'." and logs a stack trace on stderr; here
/// such a call is a tool error naming the argument and what it must be, which the MCP specification asks for (input
/// validation errors are tool execution errors, so the model can correct the call), and nothing is logged.
/// </summary>
internal static class ToolArguments
{
    private static readonly JsonElement NoProperties = JsonDocument.Parse("{}").RootElement;

    /// <summary>The call-tool filter: a call with a bad argument gets the tool error and never reaches the tool.</summary>
    public static McpRequestHandler<CallToolRequestParams, CallToolResult> Filter(McpRequestHandler<CallToolRequestParams, CallToolResult> next) =>
        (context, cancellationToken) =>
        {
            if (context.MatchedPrimitive is McpServerTool tool)
            {
                if (Problem(tool.ProtocolTool.Name, tool.ProtocolTool.InputSchema, context.Params?.Arguments) is { } problem)
                    return ValueTask.FromResult(McpResults.Error(context.Services!.GetRequiredService<PipeClient>(), problem));
                WriteWholeNumbersAsIntegers(tool.ProtocolTool.InputSchema, context.Params?.Arguments);
            }
            return next(context, cancellationToken);
        };

    /// <summary>
    /// The incoming-message filter: a <c>tools/call</c> whose params the SDK cannot read as a call (not an object, no
    /// <c>name</c> string, <c>arguments</c> not an object) is refused with JSON-RPC's invalid-params error saying what is
    /// wrong. The SDK's own reading of it throws a JSON exception, answered -32603 "An error occurred." with a stack
    /// trace on stderr. The SDK logs nothing for a message filter's refusal, so it is logged here as the SDK logs an
    /// unknown tool's: a warning, which <see cref="McpLogFormatter"/> writes in one line.
    /// </summary>
    public static McpMessageHandler ParamsFilter(McpMessageHandler next) =>
        (context, cancellationToken) =>
        {
            if (context.JsonRpcMessage is not JsonRpcRequest { Method: RequestMethods.ToolsCall } request) return next(context, cancellationToken);
            // A call, but with an argument no string can hold: the SDK's reading of it fails (-32603 "An error occurred.");
            // as any other invalid argument, it is a tool error naming the argument.
            if (request.Params is JsonObject call && call["arguments"] is JsonObject arguments && UnreadableTextProblem(arguments) is { } unreadable)
                return McpResults.SendAsync(context.Server, request.Id, McpResults.Error(context.Services!.GetRequiredService<PipeClient>(), unreadable));
            if (CallProblem(request.Params) is not { } problem) return next(context, cancellationToken);
            var refused = new McpProtocolException(problem, McpErrorCode.InvalidParams);
            context.Services?.GetService<ILoggerFactory>()?.CreateLogger(typeof(ToolArguments).FullName!)
                .LogWarning(refused, "method '{Method}' request refused", request.Method);
            throw refused;
        };

    /// <summary>What keeps <paramref name="parameters"/> from being a <c>tools/call</c>'s params, or null when they are one.</summary>
    internal static string? CallProblem(JsonNode? parameters)
    {
        if (parameters is not JsonObject call) return $"tools/call needs params, an object with name (the tool's name) and arguments (an object); got {McpStdio.Describe(parameters)}";
        if (!call.TryGetPropertyValue("name", out var name)) return "tools/call needs params.name, the tool's name (tools/list lists them)";
        if (name?.GetValueKind() != JsonValueKind.String) return $"tools/call's params.name must be a string, the tool's name; got {McpStdio.Describe(name)}";
        if (call.TryGetPropertyValue("arguments", out var arguments) && arguments is not (null or JsonObject))
            return $"tools/call's params.arguments must be an object of the tool's arguments by name; got {McpStdio.Describe(arguments)}";
        return null;
    }

    /// <summary>
    /// The argument holding text that is no string: a <c>\ud800</c>-<c>\udfff</c> escape without its pair (a lone UTF-16
    /// surrogate), which System.Text.Json refuses to read; null when every argument reads.
    /// </summary>
    internal static string? UnreadableTextProblem(JsonObject arguments)
    {
        const string rule = "is not valid text: it holds a \\ud800-\\udfff escape without its pair (half a UTF-16 character); give a string of whole characters";
        try
        {
            foreach (var (name, value) in arguments)
            {
                try { value?.ToJsonString(); }
                catch (InvalidOperationException) { return $"{name}: {rule}"; }
            }
        }
        catch (InvalidOperationException)
        {
            return $"arguments: an argument's name {rule}";
        }
        return null;
    }

    /// <summary>
    /// The <c>tools/list</c> filter: each tool's input schema says <c>additionalProperties: false</c>, as <see cref="Problem"/>
    /// refuses an argument the tool does not take.
    /// </summary>
    public static McpRequestHandler<ListToolsRequestParams, ListToolsResult> ListFilter(McpRequestHandler<ListToolsRequestParams, ListToolsResult> next) =>
        async (context, cancellationToken) =>
        {
            // Every tool is on the one page (no nextCursor is ever given), so any cursor is one this server never gave:
            // answered as the spec asks for an invalid cursor, not with an empty list a paging client takes for "no tools".
            if (context.Params?.Cursor is { } cursor)
                throw new McpProtocolException($"cursor '{cursor}' is not one tools/list gave: every tool is on its first page (no nextCursor); send no cursor", McpErrorCode.InvalidParams);
            var result = await next(context, cancellationToken);
            foreach (var tool in result.Tools)
                if (JsonNode.Parse(tool.InputSchema.GetRawText()) is JsonObject schema)
                {
                    schema["additionalProperties"] = false;
                    tool.InputSchema = JsonDocument.Parse(schema.ToJsonString()).RootElement;
                }
            return result;
        };

    /// <summary>
    /// What is wrong with <paramref name="arguments"/> for <paramref name="tool"/>'s <paramref name="schema"/>: the first
    /// bad argument, or null when they bind.
    /// </summary>
    public static string? Problem(string tool, JsonElement schema, IDictionary<string, JsonElement>? arguments)
    {
        // A tool without parameters may have no properties at all: it takes no arguments.
        var properties = schema.TryGetProperty("properties", out var declared) && declared.ValueKind == JsonValueKind.Object
            ? declared : NoProperties;
        if (schema.TryGetProperty("required", out var required) && required.ValueKind == JsonValueKind.Array)
            foreach (var r in required.EnumerateArray())
                if (r.GetString() is { } name && (arguments is null || !arguments.ContainsKey(name)))
                    return $"{name}: required, give {Expected(name, properties.GetProperty(name))}";
        if (arguments is null) return null;
        foreach (var (name, value) in arguments)
        {
            // The binding would ignore it: a misspelt full_refresh would run incrementally without a word.
            if (!properties.TryGetProperty(name, out var property))
                return $"{name}: unknown argument; {tool} takes {Takes(properties)}";
            if (!Fits(property, value)) return $"{name}: {Shown(value)} is not {Expected(name, property)}";
        }
        return null;
    }

    /// <summary>
    /// Rewrites an integer argument sent with a zero fraction (<c>3.0</c>, which JSON Schema's <c>integer</c> takes and
    /// some clients write for a whole number) as <c>3</c>: the binding to an int refuses <c>3.0</c>.
    /// </summary>
    private static void WriteWholeNumbersAsIntegers(JsonElement schema, IDictionary<string, JsonElement>? arguments)
    {
        if (arguments is null || !schema.TryGetProperty("properties", out var properties) || properties.ValueKind != JsonValueKind.Object) return;
        foreach (var (name, value) in arguments.ToList())
            if (properties.TryGetProperty(name, out var property) && Types(property).Contains("integer")
                && value.ValueKind == JsonValueKind.Number && !value.TryGetInt32(out _) && WholeInt32(value) is { } whole)
                arguments[name] = JsonDocument.Parse(whole.ToString(System.Globalization.CultureInfo.InvariantCulture)).RootElement;
    }

    /// <summary>The number as an int when it is a whole number in an int's range (<c>3</c>, <c>3.0</c>), else null.</summary>
    private static int? WholeInt32(JsonElement number) =>
        number.TryGetInt32(out var i) ? i
        : number.TryGetDecimal(out var d) && d == decimal.Truncate(d) && d >= int.MinValue && d <= int.MaxValue ? (int)d
        : null;

    private static string Takes(JsonElement properties) =>
        properties.EnumerateObject().Select(p => p.Name).ToList() is { Count: > 0 } names ? string.Join(", ", names) : "no arguments";

    private static IEnumerable<string> Types(JsonElement property) =>
        !property.TryGetProperty("type", out var type) ? []
        : type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString() ?? "")
        : [type.GetString() ?? ""];

    private static bool Fits(JsonElement property, JsonElement value)
    {
        var types = Types(property).ToList();
        if (types.Count == 0) return true;
        return types.Any(t => t switch
        {
            "string" => value.ValueKind == JsonValueKind.String,
            "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
            // Every integer parameter of PipeTools is an int: a larger number would fail the binding just the same.
            "integer" => value.ValueKind == JsonValueKind.Number && WholeInt32(value) is not null,
            "number" => value.ValueKind == JsonValueKind.Number,
            "null" => value.ValueKind == JsonValueKind.Null,
            "object" => value.ValueKind == JsonValueKind.Object,
            "array" => value.ValueKind == JsonValueKind.Array,
            _ => true,
        });
    }

    private static string Expected(string name, JsonElement property)
    {
        var kinds = Types(property).Where(t => t != "null").Select(t => t switch
        {
            "string" => "a string",
            "boolean" => "true or false",
            "integer" => $"a whole number from {int.MinValue} to {int.MaxValue}",
            "number" => "a number",
            "object" => "an object",
            "array" => "an array",
            _ => t,
        }).ToList();
        var what = kinds.Count == 0 ? "a value" : string.Join(" or ", kinds);
        if (Types(property).Contains("null")) what += " (or null)";
        return property.TryGetProperty("description", out var d) && d.GetString() is { Length: > 0 } description
            ? $"{what}; {name} is: {description}" : what;
    }

    /// <summary>The value as the caller sent it, cut short: the message names it without repeating a long one.</summary>
    private static string Shown(JsonElement value)
    {
        var raw = value.GetRawText();
        return raw.Length <= 60 ? raw : raw[..57] + "...";
    }
}

using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Sources;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace DataSpoc.Pipe.Cli.Mcp;

/// <summary>
/// Shapes tool results: a JSON object as structured content plus the same JSON as text (for clients that read text
/// only), with every secret any pipeline of the home knows masked as <c>***</c> as a last pass before it leaves.
/// </summary>
internal static class McpResults
{
    public static readonly JsonSerializerOptions SerializerOptions = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        TypeInfoResolver = McpJsonContext.Default,
    };

    /// <summary>The contracts of what the tools answer, bound to <see cref="SerializerOptions"/> (snake_case names).</summary>
    public static readonly McpJsonContext Json = new(new JsonSerializerOptions(SerializerOptions));

    public static JsonNode? ToNode<T>(T value, JsonTypeInfo<T> type) => JsonSerializer.SerializeToNode(value, type);

    public static CallToolResult Ok(PipeClient client, JsonObject result) => Build(client, result, isError: false);

    /// <summary>A result that is also an error (a run that failed: its log is the answer).</summary>
    public static CallToolResult Failed(PipeClient client, JsonObject result) => Build(client, result, isError: true);

    /// <summary>A tool error the agent can read and act on (unknown pipeline, invalid config…), not a protocol error.</summary>
    public static CallToolResult Error(PipeClient client, string message) => Build(client, new JsonObject { ["error"] = message }, isError: true);

    private static CallToolResult Build(PipeClient client, JsonObject result, bool isError)
    {
        var redactor = Secrets(client);
        // Masked value by value (names, strings and numbers), never as JSON text: masking the text could cut into its
        // syntax, and a secret with quotes or backslashes is escaped there anyway.
        var plain = JsonNode.Parse(result.ToJsonString(SerializerOptions));
        var text = Masked(plain, redactor)!.ToJsonString(SerializerOptions);
        return new CallToolResult
        {
            Content = [new TextContentBlock { Text = text }],
            StructuredContent = JsonElement.Parse(text),
            IsError = isError,
        };
    }

    private static JsonNode? Masked(JsonNode? node, ConfigSecrets redactor)
    {
        switch (node)
        {
            case JsonObject o:
                var copy = new JsonObject();
                foreach (var (k, v) in o) copy[redactor.Redact(k)] = Masked(v, redactor);
                return copy;
            case JsonArray a:
                return new JsonArray(a.Select(v => Masked(v, redactor)).ToArray());
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                return JsonValue.Create(redactor.Redact(v.GetValue<string>()));
            case JsonValue v when v.GetValueKind() == JsonValueKind.Number:
                // A numeric secret (a PIN in a tap config) shown as a number: the mask is a string there.
                var number = v.ToJsonString();
                return redactor.Redact(number) == number ? node.DeepClone() : JsonValue.Create(Redactor.Mask);
            default:
                return node?.DeepClone();
        }
    }

    /// <summary>Sends <paramref name="result"/> as the response to the <c>tools/call</c> request <paramref name="id"/>, for a call the SDK will not answer itself.</summary>
    public static Task SendAsync(McpServer server, RequestId id, CallToolResult result) =>
        server.SendMessageAsync(new JsonRpcResponse
        {
            Id = id,
            Result = JsonSerializer.SerializeToNode(result, ModelContextProtocol.McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(CallToolResult))),
        }, CancellationToken.None);

    /// <summary>Masks every known secret in a text (for resources).</summary>
    public static string Redact(PipeClient client, string text) => Secrets(client).Redact(text);

    /// <summary>The secrets of every pipeline of the home, as the application layer collects them, so none can leak through any tool.</summary>
    private static ConfigSecrets Secrets(PipeClient client) => client.HomeSecrets();
}

/// <summary>Compile-time JSON contracts of what the MCP tools answer (the SDK brings those of the protocol and of tool parameters).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(RunLog))]
[JsonSerializable(typeof(IReadOnlyList<RunLog>))]
[JsonSerializable(typeof(List<PipelineStatus>))]
[JsonSerializable(typeof(List<PipelineValidation>))]
[JsonSerializable(typeof(Manifest))]
[JsonSerializable(typeof(List<ManifestColumn>))]
internal sealed partial class McpJsonContext : JsonSerializerContext;

using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// Writes <c>--output json</c> documents to stdout: indented, UTF-8 kept readable. Times go in as
/// <see cref="DateTimeOffset"/> values, never as preformatted text, so System.Text.Json writes them exactly as the MCP
/// tools and the run logs do (ISO 8601, the fraction without trailing zeros): one instant, one string everywhere.
/// </summary>
internal static class JsonOutput
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void Write(JsonNode? node) => Console.Out.WriteLine(node?.ToJsonString(Options) ?? "null");
}

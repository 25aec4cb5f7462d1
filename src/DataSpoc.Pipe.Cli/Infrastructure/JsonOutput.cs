using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>Writes <c>--output json</c> documents to stdout: indented, UTF-8 kept readable.</summary>
internal static class JsonOutput
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void Write(JsonNode? node) => Console.Out.WriteLine(node?.ToJsonString(Options) ?? "null");
}

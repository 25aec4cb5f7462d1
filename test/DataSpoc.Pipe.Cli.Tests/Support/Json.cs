using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Cli.Tests.Support;

public static class Json
{
    /// <summary>Parses a command's <c>--output json</c> stdout; fails the test with the whole output when it is not JSON.</summary>
    public static JsonNode Parse(CliProcess.Result result)
    {
        try
        {
            return JsonNode.Parse(result.Stdout) ?? throw new InvalidOperationException("null");
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"stdout is not JSON ({e.Message}):\n{result}");
        }
    }

    public static string Str(this JsonNode? node, string key) => node?[key]?.GetValue<string>() ?? throw new Xunit.Sdk.XunitException($"no string '{key}' in {node?.ToJsonString()}");
    public static long Long(this JsonNode? node, string key) => node?[key]?.GetValue<long>() ?? throw new Xunit.Sdk.XunitException($"no number '{key}' in {node?.ToJsonString()}");
    public static bool Bool(this JsonNode? node, string key) => node?[key]?.GetValue<bool>() ?? throw new Xunit.Sdk.XunitException($"no boolean '{key}' in {node?.ToJsonString()}");
}

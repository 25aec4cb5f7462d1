using System.Text;
using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// Credentials in the tool's own environment (cloud keys, a database password, the OpenLineage key, OTLP headers): a tap
/// inherits the environment, so what it prints of them would otherwise land in the run log in the bucket, the error line
/// and the OpenLineage FAIL event.
/// </summary>
public sealed class EnvironmentCredentialTests : IDisposable
{
    private const string AwsSecret = "awsSECRETvalue123";
    private const string PgPassword = "pgPASSvalue456";
    private const string AzureKey = "azKEYvalue789xyz==";
    private const string OpenLineageKey = "olKEYvalue789";
    private const string OtlpToken = "otlpTOKENvalue321";
    private readonly TempHome _home = new();
    private readonly LoopbackReceiver _lineage = new();

    public void Dispose()
    {
        _lineage.Dispose();
        _home.Dispose();
    }

    [Fact]
    public void A_tap_printing_credentials_of_the_environment_gets_them_masked_and_never_sees_the_tools_own()
    {
        var seen = Path.Combine(_home.Root, "tap-environment.txt");
        var tap = Path.Combine(_home.Root, "env_tap.sh");
        File.WriteAllText(tap, $$"""
            #!/bin/bash
            case "$*" in *--discover*|*--help*|*--about*) exit 0;; esac
            env > '{{seen}}'
            echo "aws=$AWS_SECRET_ACCESS_KEY pg=$PGPASSWORD" >&2
            echo "azure=$AZURE_STORAGE_CONNECTION_STRING key=${AZURE_STORAGE_CONNECTION_STRING##*AccountKey=}" >&2
            echo "lineage=$OPENLINEAGE_API_KEY otlp=$OTEL_EXPORTER_OTLP_HEADERS traces=$OTEL_EXPORTER_OTLP_TRACES_HEADERS" >&2
            exit 3
            """);
        _home.WritePipeline("envd", $"""
            source:
              tap: bash {tap}
            destination:
              bucket: {_home.Bucket}
            """);
        _home.Set("AWS_SECRET_ACCESS_KEY", AwsSecret).Set("PGPASSWORD", PgPassword)
            .Set("AZURE_STORAGE_CONNECTION_STRING", $"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={AzureKey};EndpointSuffix=core.windows.net")
            .Set("OPENLINEAGE_URL", _lineage.Url).Set("OPENLINEAGE_API_KEY", OpenLineageKey)
            .Set("OTEL_EXPORTER_OTLP_HEADERS", $"Authorization=Bearer {OtlpToken}").Set("OTEL_EXPORTER_OTLP_TRACES_HEADERS", $"x-api-key={OtlpToken}");

        var run = CliProcess.Run(_home, "run", "envd", "--output", "json");
        Assert.NotEqual(0, run.ExitCode);
        var logs = CliProcess.Run(_home, "logs", "envd", "--output", "json");
        var shown = new StringBuilder().Append(run.Stdout).Append(run.Stderr).Append(logs.Stdout).Append(logs.Stderr);
        foreach (var file in Directory.GetFiles(_home.Lake, "*", SearchOption.AllDirectories)) shown.Append(File.ReadAllText(file));
        foreach (var request in _lineage.Requests) shown.Append(Encoding.UTF8.GetString(request.Body));
        var text = shown.ToString();
        Assert.Contains("aws=*** pg=***", text);
        Assert.Contains("key=***", text);
        foreach (var secret in (string[])[AwsSecret, PgPassword, AzureKey, OpenLineageKey, OtlpToken])
            Assert.DoesNotContain(secret, text);
        Assert.Contains(_lineage.Requests, r => Encoding.UTF8.GetString(r.Body).Contains("\"FAIL\"", StringComparison.Ordinal));

        // Cloud credentials stay (a tap may read its own source with them); the tool's observability credentials do not.
        var tapEnvironment = File.ReadAllText(seen);
        Assert.Contains("AWS_SECRET_ACCESS_KEY=" + AwsSecret, tapEnvironment);
        Assert.DoesNotContain("OPENLINEAGE_API_KEY", tapEnvironment);
        Assert.DoesNotContain("OTEL_EXPORTER_OTLP_HEADERS", tapEnvironment);
        Assert.DoesNotContain("OTEL_EXPORTER_OTLP_TRACES_HEADERS", tapEnvironment);
    }
}

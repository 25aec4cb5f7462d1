using System.ComponentModel;
using DataSpoc.Pipe.Api;
using ModelContextProtocol.Server;

namespace DataSpoc.Pipe.Cli.Mcp;

/// <summary>The server's resources.</summary>
[McpServerResourceType]
internal sealed class PipeResources(PipeTools tools, PipeClient client)
{
    [McpServerResource(UriTemplate = "pipe://pipelines", Name = "pipelines", MimeType = "application/json")]
    [Description("Every pipeline of the home folder with its tap, bucket, schedule and incremental flag (secrets masked).")]
    public string Pipelines() => McpResults.Redact(client, tools.PipelineSummaries().ToJsonString(McpResults.SerializerOptions));
}

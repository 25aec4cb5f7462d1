using System.Text;
using System.Text.Json;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>Writes a pipeline YAML the way a person would (the keys of reference-product.md, nothing else).</summary>
internal static class PipelineYaml
{
    public sealed record Answers(string Tap, string? ConfigFile, string Bucket, string? Path, string? Compression, bool Incremental, string? Cron,
        IReadOnlyList<string>? Streams = null, IReadOnlyDictionary<string, Config.StreamReplication>? Replication = null);

    public static string Write(Answers a)
    {
        var sb = new StringBuilder();
        sb.Append("source:\n");
        sb.Append("  tap: ").Append(Scalar(a.Tap)).Append('\n');
        if (a.ConfigFile is not null) sb.Append("  config: ").Append(Scalar(a.ConfigFile)).Append('\n');
        if (a.Streams is { Count: > 0 }) sb.Append("  streams: [").Append(string.Join(", ", a.Streams.Select(Scalar))).Append("]\n");
        if (a.Replication is { Count: > 0 })
        {
            sb.Append("  replication:\n");
            foreach (var (stream, r) in a.Replication)
                sb.Append("    ").Append(Scalar(stream)).Append(": {method: ").Append(r.Method)
                    .Append(r.Key is { } key ? ", key: " + Scalar(key) : "").Append("}\n");
        }
        sb.Append("destination:\n");
        sb.Append("  bucket: ").Append(Scalar(a.Bucket)).Append('\n');
        if (a.Path is not null) sb.Append("  path: ").Append(Scalar(a.Path)).Append('\n');
        if (a.Compression is not null) sb.Append("  compression: ").Append(Scalar(a.Compression)).Append('\n');
        sb.Append("incremental:\n");
        sb.Append("  enabled: ").Append(a.Incremental ? "true" : "false").Append('\n');
        if (!string.IsNullOrWhiteSpace(a.Cron))
        {
            sb.Append("schedule:\n");
            sb.Append("  cron: ").Append(Quoted(a.Cron)).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>A plain scalar when unambiguous, else a double-quoted one (JSON string syntax is valid YAML).</summary>
    public static string Scalar(string value)
    {
        var plain = value.Length > 0 && !char.IsWhiteSpace(value[0]) && !char.IsWhiteSpace(value[^1]) &&
                    value.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '/' or '-' or ':' or '@' or ' ' or '+' or '=') &&
                    !value.Contains(": ", StringComparison.Ordinal) && value[0] is not ('-' or '@' or ':') &&
                    value.ToLowerInvariant() is not ("true" or "false" or "yes" or "no" or "on" or "off" or "null" or "~") &&
                    !double.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out _);
        return plain ? value : Quoted(value);
    }

    /// <summary>A JSON string literal (escaped as the serializer would).</summary>
    private static string Quoted(string value) => "\"" + JsonEncodedText.Encode(value) + "\"";
}

using System.Text.Json;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>Reads a pipeline's run logs from its bucket (<c>.dataspoc/logs/&lt;pipeline&gt;/</c>; the latest is the greatest name).</summary>
internal static class RunLogs
{
    /// <summary>Log keys, newest first.</summary>
    public static async Task<List<string>> KeysAsync(PipelineDefinition pipeline, CancellationToken cancellationToken)
    {
        await using var store = Stores.Open(pipeline.Destination.Bucket, pipeline.Destination.StorageOptions);
        var keys = new List<string>();
        await foreach (var o in store.ListAsync(LakePaths.LogsPrefix(pipeline.Name), cancellationToken))
            if (o.Key.EndsWith(".json", StringComparison.Ordinal)) keys.Add(o.Key);
        keys.Sort(StringComparer.Ordinal);
        keys.Reverse();
        return keys;
    }

    public static async Task<(RunLog Log, byte[] Raw)?> ReadAsync(PipelineDefinition pipeline, string key, CancellationToken cancellationToken)
    {
        await using var store = Stores.Open(pipeline.Destination.Bucket, pipeline.Destination.StorageOptions);
        var stored = await store.GetAsync(key, cancellationToken);
        if (stored is null) return null;
        var raw = stored.Content.ToArray();
        try
        {
            return (LakeJson.Deserialize<RunLog>(raw, "run log " + key), raw);
        }
        catch (JsonException e)
        {
            throw new FailedException($"run log {key} in {pipeline.Destination.Bucket} is not valid JSON: {e.Message}");
        }
    }

    public static async Task<(RunLog Log, byte[] Raw)?> LatestAsync(PipelineDefinition pipeline, CancellationToken cancellationToken)
    {
        var keys = await KeysAsync(pipeline, cancellationToken);
        return keys.Count == 0 ? null : await ReadAsync(pipeline, keys[0], cancellationToken);
    }

    /// <summary>The run id in a log key: <c>…/2025-01-20T10-05-12Z_ab12cd.json</c> -> <c>ab12cd</c>.</summary>
    public static string RunIdOf(string key)
    {
        var name = Path.GetFileNameWithoutExtension(key);
        var underscore = name.IndexOf('_');
        return underscore < 0 ? name : name[(underscore + 1)..];
    }
}

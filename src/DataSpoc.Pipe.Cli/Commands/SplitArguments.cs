using System.Globalization;
using DataSpoc.Pipe.Cli.Infrastructure;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Runs;

namespace DataSpoc.Pipe.Cli.Commands;

/// <summary>
/// <c>run NAME --part I/N|auto --split-run ID</c>: which part a worker reads and which split run it belongs to. A Kubernetes
/// Indexed Job gives each pod <c>JOB_COMPLETION_INDEX</c>, so <c>--part auto</c> reads it (N is the pipeline's
/// <c>source.split.parts</c>); the rendered Job sets <c>DATASPOC_SPLIT_RUN</c> to its own uid, shared by all its pods and retries.
/// </summary>
internal static class SplitArguments
{
    public const string IndexVariable = "JOB_COMPLETION_INDEX";
    public const string SplitRunVariable = "DATASPOC_SPLIT_RUN";

    public static SplitPart Part(string text, string splitRunId, PipelineDefinition pipeline)
    {
        var parts = pipeline.Source.Split?.Parts
            ?? throw new UsageException($"--part: pipeline '{pipeline.Name}' has no source.split (the column and number of parts to read its table in)");
        var slash = text.IndexOf('/');
        var index = slash < 0 ? text : text[..slash];
        if (index == "auto")
        {
            index = Environment.GetEnvironmentVariable(IndexVariable)
                ?? throw new UsageException($"--part auto: the environment variable {IndexVariable} is not set (a Kubernetes Indexed Job sets it); give --part I/{parts}");
        }
        if (!int.TryParse(index, NumberStyles.None, CultureInfo.InvariantCulture, out var i))
            throw new UsageException($"--part '{text}': expected I/N (0 <= I < N) or auto");
        var n = parts;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out n) || n != parts))
            throw new UsageException($"--part '{text}': the pipeline splits its table in {parts} parts (source.split.parts), so N must be {parts}");
        if (i >= n) throw new UsageException($"--part '{text}': the index must be 0..{n - 1}");
        return new SplitPart(i, n, splitRunId);
    }

    public static string RunId(string? option)
    {
        var id = option ?? Environment.GetEnvironmentVariable(SplitRunVariable);
        if (string.IsNullOrWhiteSpace(id))
            throw new UsageException($"a split run needs an id every worker shares: give --split-run <ID> or set {SplitRunVariable} (the rendered Indexed Job sets it to the Job's uid)");
        if (id.Length > 100 || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') || id[0] == '.')
            throw new UsageException($"--split-run '{id}': use letters, digits, '-', '_' and '.' (at most 100, not starting with '.')");
        return id;
    }
}

namespace DataSpoc.Pipe.Config;

/// <summary>
/// Where a pipeline's tables land (<c>destination.bucket</c>, <c>destination.path</c>, <c>source.name</c>), checked one
/// way for a pipeline file (<see cref="PipelineLoader"/>, which adds the line) and for a definition made in code
/// (<see cref="Api.PipeClient"/>, before anything runs: a bad path would otherwise be refused only at commit, after the
/// whole extraction).
/// </summary>
public static class PipelineLocation
{
    /// <summary>Why <c>destination.bucket</c> cannot be used, or null when it can.</summary>
    public static string? BucketProblem(string? bucket)
    {
        if (bucket is null) return "is not set";
        try
        {
            Storage.BucketUri.Parse(bucket);
            return null;
        }
        catch (FormatException e)
        {
            return e.Message;
        }
    }

    /// <summary>Why <c>destination.path</c> cannot be used, or null when it can.</summary>
    public static string? PathProblem(string path)
    {
        try
        {
            Lake.LakePaths.BasePath(path);
            return null;
        }
        catch (ArgumentException e)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// Throws a <see cref="ConfigException"/> naming the key of a definition's first problem.
    /// <paramref name="sourceName"/> is <c>source.name</c>, else the name of the source given in code (a tap's own name is
    /// always made safe).
    /// </summary>
    internal static void Check(PipelineDefinition pipeline, string? sourceName)
    {
        if (BucketProblem(pipeline.Destination.Bucket) is { } bucket) throw new ConfigException(bucket, pipeline.FilePath, key: "destination.bucket");
        if (PathProblem(pipeline.Destination.Path) is { } path) throw new ConfigException(path, pipeline.FilePath, key: "destination.path");
        if (sourceName is not null && Lake.LakeNames.SourceNameError(sourceName) is { } name) throw new ConfigException(name, pipeline.FilePath, key: "source.name");
    }
}

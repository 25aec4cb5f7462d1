namespace DataSpoc.Pipe.Config;

/// <summary>
/// Where a pipeline's tables land (<c>destination.bucket</c>, <c>destination.path</c>, <c>source.name</c>), checked one
/// way for a pipeline file (<see cref="PipelineLoader"/>, which adds the line) and for a definition made in code
/// (<see cref="PipelineRules"/>, which <see cref="Api.PipeClient"/> checks before anything runs: a bad path would
/// otherwise be refused only at commit, after the whole extraction).
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
}

namespace DataSpoc.Pipe.Cloud;

/// <summary>What a cancelled or failed upload does about the parts or session it leaves on the server.</summary>
internal static class UnfinishedUploads
{
    /// <summary>
    /// How long discarding an unfinished upload (an S3 multipart abort, a GCS resumable session's DELETE) may take
    /// before it is left behind. A store that answers at all answers at once; one that stalled (the usual reason a run
    /// lost its lock and cancelled the upload) would hold the run on its way out for the whole bound, after its lease
    /// already ended. What is left is not lost track of: an S3 upload is aborted again by the commit's rollback or the
    /// next run's recovery (<see cref="DataSpoc.Pipe.Storage.IObjectStore.DeleteWithUnfinishedUploadsAsync"/>, the key
    /// is in the run's journal), a GCS session expires on its own; neither is ever visible as an object.
    /// </summary>
    public static readonly TimeSpan DiscardTimeout = TimeSpan.FromSeconds(5);
}

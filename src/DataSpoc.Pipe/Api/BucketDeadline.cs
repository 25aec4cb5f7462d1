using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Api;

/// <summary>
/// The rule of the checks and views that read a bucket without changing the lake (status, manifest, the dashboard,
/// the MCP views, validate): a bucket gets <see cref="PipeClient.BucketReadTimeout"/> to answer, then a
/// <see cref="StorageException"/> (its inner exception a <see cref="TimeoutException"/>) naming the bucket and its endpoint.
/// The stores' own timeouts and retries are sized for a run's uploads (minutes per call against a stalled endpoint).
/// </summary>
internal static class BucketDeadline
{
    /// <summary><paramref name="read"/> of <paramref name="bucket"/>, given <paramref name="timeout"/>.</summary>
    public static async Task<T> ReadAsync<T>(string bucket, IReadOnlyDictionary<string, string>? options, TimeSpan timeout,
        Func<CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(timeout);
        var task = read(bound.Token);
        try
        {
            // WaitAsync as well as the token: a store that does not observe the token still lets the caller go on; the
            // abandoned read ends on its own (its failure is observed below, not left to the finalizer).
            return await task.WaitAsync(bound.Token).ConfigureAwait(false);
        }
        catch (Exception) when (bound.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            var endpoint = options?.GetValueOrDefault("endpoint_url") is { } url ? $" (endpoint {url})" : "";
            var message = $"bucket {bucket}{endpoint} did not answer within {timeout.TotalSeconds:0.#} s: "
                + "the endpoint is down, stalled or very slow (validate and the read-only views wait that long for a bucket; runs wait longer)";
            throw new StorageException(message, new TimeoutException(message));
        }
    }
}

using System.Text;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Api;

/// <summary>
/// Proves a bucket is usable the way a run uses it: write, read back, list and delete a small probe object.
/// A failing step names the permission it needs for the bucket's kind of store.
/// </summary>
internal static class BucketProbe
{
    public sealed record Outcome(bool Ok, string Detail);

    public static async Task<Outcome> RunAsync(ObjectStoreFactory stores, string bucket, IReadOnlyDictionary<string, string> options, CancellationToken cancellationToken)
    {
        IObjectStore store;
        try
        {
            store = stores.Open(bucket, options);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or StorageException)
        {
            return new Outcome(false, e.Message);
        }
        await using var _ = store;
        var scheme = store.Bucket.Scheme;
        var key = LakePaths.ProbeKey(Guid.NewGuid().ToString("N"));
        var content = Encoding.UTF8.GetBytes("dataspoc-pipe validate probe\n");
        var step = "write";
        try
        {
            await store.PutAsync(key, content, WriteCondition.None, cancellationToken).ConfigureAwait(false);
            step = "read";
            var back = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
            if (back is null || !back.Content.Span.SequenceEqual(content))
                return new Outcome(false, $"the probe object {key} was written but did not read back the same ({BucketPermissions.Of(scheme, "read")})");
            step = "list";
            var listed = false;
            await foreach (var o in store.ListAsync(LakePaths.ProbePrefix, cancellationToken).ConfigureAwait(false))
                listed |= o.Key == key;
            if (!listed)
                return new Outcome(false, $"the probe object {key} was written but listing {LakePaths.ProbePrefix} does not show it ({BucketPermissions.Of(scheme, "list")})");
            step = "delete";
            await store.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
            return new Outcome(true, "write, read, list and delete work");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            if (step != "write")
            {
                try { await store.DeleteAsync(key, CancellationToken.None).ConfigureAwait(false); } catch (Exception) { /* best effort: the real error is reported */ }
            }
            // Refused credentials are no permission to grant: the message says which setting holds them; an endpoint
            // that was not reached denied nothing either.
            return new Outcome(false, e is StorageException { CredentialsRefused: true } or StorageException { Unreachable: true }
                ? $"cannot {step}: {OneLine(e.Message)}"
                : $"cannot {step} ({BucketPermissions.Of(scheme, step)} denied or failing): {OneLine(e.Message)}");
        }
    }

    private static string OneLine(string message) => message.Split('\n')[0].Trim();
}

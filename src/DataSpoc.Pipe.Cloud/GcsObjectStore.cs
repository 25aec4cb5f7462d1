using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using DataSpoc.Pipe.Storage;
using Google;
using Google.Apis.Auth.OAuth2.Responses;
using Google.Apis.Upload;
using Google.Cloud.Storage.V1;

namespace DataSpoc.Pipe.Cloud;

/// <summary>
/// A <c>gs://bucket[/prefix]</c> bucket (alias <c>gcs://</c>) through Google.Cloud.Storage.V1. Credentials:
/// Application Default Credentials (<c>GOOGLE_APPLICATION_CREDENTIALS</c>, gcloud ADC, the metadata server).
/// <c>STORAGE_EMULATOR_HOST</c> points it, unauthenticated, at an emulator; storage option <c>endpoint_url</c>
/// overrides the JSON API base URI. Every upload is a resumable session streamed from disk in chunks; a transient
/// failure resumes the session where the server says it stopped, and a failed upload cancels its session.
/// The version tag is the object generation.
/// </summary>
public sealed class GcsObjectStore : IObjectStore
{
    private const int ChunkSize = 16 << 20;
    private const int ResumeAttempts = 4;
    private const string ContentType = "application/octet-stream";

    private readonly StorageClient _client;
    private readonly ObjectKeys _keys;
    private readonly StorageFailures _failures;
    /// <summary>Where the credential came from, for a refusal's message: a variable or a file path, never a key.</summary>
    private readonly string _credentialSource;
    private readonly string _bucketName;
    private readonly RetryOptions _idempotent;
    /// <summary>The wait before the first resume of an upload; each next one doubles (randomised, up to 8 s).</summary>
    private readonly TimeSpan _firstResumeDelay;

    public GcsObjectStore(BucketUri bucket, IReadOnlyDictionary<string, string>? options = null)
        : this(bucket, CloudSettings.FromProcess(options)) { }

    internal GcsObjectStore(BucketUri bucket, CloudSettings settings)
    {
        Bucket = bucket;
        _bucketName = bucket.Bucket;
        _keys = new ObjectKeys(bucket);
        _failures = new StorageFailures("GCS", bucket, _keys, "bucket", "service account");
        // Storage option retry_delay sets the first retry's back-off (the client library's default is 1 s, ours for
        // resuming an upload 0.5 s; each next one doubles): a nearby server needs less.
        var retryDelay = settings.Duration("retry_delay");
        _idempotent = new RetryOptions(retryDelay is { } first ? RetryTiming.Default.WithInitialBackoff(first) : RetryTiming.Default, RetryPredicate.RetriableIdempotentErrors);
        _firstResumeDelay = retryDelay ?? TimeSpan.FromMilliseconds(500);
        var emulator = settings.Env("STORAGE_EMULATOR_HOST");
        var endpoint = settings.Option("endpoint_url");
        // Read here rather than left to the client library, which would read the process's own variable: the store
        // takes every setting from one place. The path is no secret (the key is inside the file).
        var keyFile = settings.Env("GOOGLE_APPLICATION_CREDENTIALS");
        _credentialSource = keyFile is not null
            ? $"GOOGLE_APPLICATION_CREDENTIALS (the service-account key file '{keyFile}'; its key or account may be deleted or disabled)"
            : "the Application Default Credentials (run 'gcloud auth application-default login' again, or check the attached service account)";
        try
        {
            var builder = new StorageClientBuilder();
            if (emulator is not null)
            {
                // Emulators take no credentials; the JSON API lives under /storage/v1/ on the given host.
                var host = emulator.Contains("://", StringComparison.Ordinal) ? emulator : "http://" + emulator;
                builder.BaseUri = host.TrimEnd('/') + "/storage/v1/";
                builder.UnauthenticatedAccess = true;
            }
            else if (endpoint is not null)
            {
                builder.BaseUri = endpoint.TrimEnd('/') + (endpoint.TrimEnd('/').EndsWith("/storage/v1", StringComparison.Ordinal) ? "/" : "/storage/v1/");
            }
            // Obsolete because a credential file from an untrusted source could run commands (external_account); this
            // is the file the user named in GOOGLE_APPLICATION_CREDENTIALS, the one Application Default Credentials
            // would load from that variable anyway, of whichever type (service account, gcloud login, federation).
#pragma warning disable CS0618
            if (emulator is null && keyFile is not null) builder.CredentialsPath = keyFile;
#pragma warning restore CS0618
            _client = builder.Build();
        }
        catch (Exception e) when (keyFile is not null && emulator is null && e is not OutOfMemoryException)
        {
            // Missing, unreadable, not JSON (the parser's own exception type), not a credential type the client knows.
            throw new StorageException($"GOOGLE_APPLICATION_CREDENTIALS names '{keyFile}', which is not a readable Google credential file: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            throw new StorageException(
                $"no Google Cloud credentials for '{bucket}': set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, " +
                "run 'gcloud auth application-default login', or run on GCP with an attached service account", e);
        }
    }

    public BucketUri Bucket { get; }

    public async Task PutFileAsync(string key, string localPath, CancellationToken cancellationToken)
    {
        // Created only if absent: a data file never replaces another writer's.
        if (!await PutFileIfAbsentAsync(key, localPath, cancellationToken).ConfigureAwait(false))
            throw new StorageException($"{_keys.Describe(key)} already exists (another writer created it); data files are created only if absent, so nothing was overwritten");
    }

    public async Task<bool> PutFileIfAbsentAsync(string key, string localPath, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(localPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        try
        {
            // ifGenerationMatch=0, checked when the session starts and when it is finalised.
            await UploadAsync(key, file, 0, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (StorageException e) when (e.InnerException is GoogleApiException { HttpStatusCode: HttpStatusCode.PreconditionFailed })
        {
            // Our own upload may have landed with its response lost, and a retry then finds the object taken.
            return await OwnWrites.HoldsFileAsync(this, key, localPath, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<bool> PutAsync(string key, ReadOnlyMemory<byte> content, WriteCondition condition, CancellationToken cancellationToken)
    {
        long? generation = condition.Kind switch
        {
            WriteConditionKind.IfAbsent => 0,
            WriteConditionKind.IfVersion => long.TryParse(condition.Version, NumberStyles.None, CultureInfo.InvariantCulture, out var g) ? g : -1,
            _ => null,
        };
        if (generation == -1) return false; // not a generation this store handed out: cannot match
        using var stream = new MemoryStream(content.ToArray(), writable: false);
        try
        {
            await UploadAsync(key, stream, generation, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (StorageException e) when (generation is not null && e.InnerException is GoogleApiException { HttpStatusCode: HttpStatusCode.PreconditionFailed })
        {
            // Unless the refusal is a retry of our own write whose response was lost (see OwnWrites).
            return await OwnWrites.HoldsAsync(this, key, content, condition, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One resumable session: initiate (preconditions checked here and at finalisation), send, resume on transient failure.</summary>
    private async Task UploadAsync(string key, Stream content, long? ifGenerationMatch, CancellationToken cancellationToken)
    {
        var name = _keys.Name(key);
        var uploader = _client.CreateObjectUploader(_bucketName, name, ContentType, content, new UploadObjectOptions
        {
            ChunkSize = ChunkSize,
            IfGenerationMatch = ifGenerationMatch,
        });
        Uri session;
        try
        {
            session = await uploader.InitiateSessionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw Translate(e, StorageOperation.Put, key);
        }
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                var progress = await uploader.ResumeAsync(session, cancellationToken).ConfigureAwait(false);
                if (progress.Status == UploadStatus.Completed) return;
                var error = progress.Exception ?? new IOException("upload did not complete");
                cancellationToken.ThrowIfCancellationRequested();
                if (attempt >= ResumeAttempts || !IsTransient(error)) throw Translate(error, StorageOperation.Put, key);
                await Task.Delay(Backoff(attempt), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception)
        {
            await CancelSessionQuietlyAsync(session).ConfigureAwait(false);
            throw;
        }
    }

    private static bool IsTransient(Exception e) => e switch
    {
        GoogleApiException g => (int)g.HttpStatusCode is 408 or 429 or >= 500,
        HttpRequestException or IOException or TimeoutException => true,
        TaskCanceledException => true, // an HTTP timeout, not the caller's cancellation (checked before)
        _ => false,
    };

    /// <summary>Exponential backoff with full jitter.</summary>
    private TimeSpan Backoff(int attempt) =>
        TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * Math.Min(8_000, _firstResumeDelay.TotalMilliseconds * Math.Pow(2, attempt - 1)));

    private async Task CancelSessionQuietlyAsync(Uri session)
    {
        try
        {
            // DELETE on a resumable session discards what it received (GCS answers 499).
            using var timeout = new CancellationTokenSource(UnfinishedUploads.DiscardTimeout);
            using var response = await _client.Service.HttpClient.DeleteAsync(session, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Unfinished sessions are never visible as objects and expire on their own.
        }
    }

    public async Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var name = _keys.Name(key);
        try
        {
            for (int attempt = 1, broken = 0; ; attempt++)
            {
                Google.Apis.Storage.v1.Data.Object metadata;
                try
                {
                    metadata = await _client.GetObjectAsync(_bucketName, name, new GetObjectOptions { RetryOptions = _idempotent }, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (StorageFailures.IsBrokenBody(e) && ++broken < StorageFailures.WholeReadAttempts && !cancellationToken.IsCancellationRequested)
                {
                    continue;
                }
                using var buffer = new MemoryStream((int)Math.Min(metadata.Size ?? 0, int.MaxValue));
                try
                {
                    // Download exactly the generation whose tag is returned, so content and version always agree.
                    await _client.DownloadObjectAsync(_bucketName, name, buffer, new DownloadObjectOptions { Generation = metadata.Generation }, cancellationToken).ConfigureAwait(false);
                }
                catch (GoogleApiException e) when (e.HttpStatusCode == HttpStatusCode.NotFound && attempt < 10)
                {
                    // A concurrent writer replaced that generation between the two calls: read the new one.
                    continue;
                }
                catch (Exception e) when (StorageFailures.IsBrokenBody(e) && ++broken < StorageFailures.WholeReadAttempts && !cancellationToken.IsCancellationRequested)
                {
                    continue;
                }
                return new StoredObject(buffer.ToArray(), metadata.Generation?.ToString(CultureInfo.InvariantCulture) ?? "");
            }
        }
        catch (GoogleApiException e) when (e.HttpStatusCode == HttpStatusCode.NotFound && !IsMissingBucket(e))
        {
            return null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw Translate(e, StorageOperation.Get, key);
        }
    }

    public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken) => OpenMediaAsync(key, null, cancellationToken);

    public Task<Stream> OpenReadRangeAsync(string key, long offset, long length, CancellationToken cancellationToken)
    {
        ObjectRange.Check(offset, length);
        return OpenMediaAsync(key, (offset, length), cancellationToken);
    }

    /// <summary>The object's content, or a range of it (<see cref="ObjectRange"/>), through the media download URL.</summary>
    private async Task<Stream> OpenMediaAsync(string key, (long Offset, long Length)? range, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get,
            $"{_client.Service.BaseUri}b/{Uri.EscapeDataString(_bucketName)}/o/{Uri.EscapeDataString(_keys.Name(key))}?alt=media");
        if (range is var (first, count)) request.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(first, ObjectRange.Last(first, count));
        HttpResponseMessage response;
        try
        {
            response = await _client.Service.HttpClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw Translate(e, StorageOperation.Get, key);
        }
        if (response.IsSuccessStatusCode)
        {
            var body = new OwningStream(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), response);
            // A server that ignores Range answers 200 with the whole object: the range is then cut from it.
            return range is var (offset, length) && response.StatusCode != HttpStatusCode.PartialContent ? ObjectRange.Of(body, offset, length) : body;
        }
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound && !body.Contains("bucket", StringComparison.OrdinalIgnoreCase))
                throw new FileNotFoundException($"object '{_keys.Describe(key)}' not found", key);
            if (range is not null && response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
                return Stream.Null; // the object ends at or before the offset
            throw Translate(new GoogleApiException("storage", body) { HttpStatusCode = response.StatusCode }, StorageOperation.Get, key);
        }
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var pages = _client.ListObjectsAsync(_bucketName, _keys.ListPrefix(prefix), new ListObjectsOptions { RetryOptions = _idempotent });
        await using var items = pages.GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            try
            {
                if (!await items.MoveNextAsync().ConfigureAwait(false)) yield break;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw Translate(e, StorageOperation.List, prefix);
            }
            var item = items.Current;
            yield return new ObjectInfo(_keys.Key(item.Name), (long)(item.Size ?? 0), item.UpdatedDateTimeOffset ?? default);
        }
    }

    public async Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            await _client.DeleteObjectAsync(_bucketName, _keys.Name(key), new DeleteObjectOptions { RetryOptions = _idempotent }, cancellationToken).ConfigureAwait(false);
        }
        catch (GoogleApiException e) when (e.HttpStatusCode == HttpStatusCode.NotFound && !IsMissingBucket(e))
        {
            // Already gone.
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw Translate(e, StorageOperation.Delete, key);
        }
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    private static bool IsMissingBucket(GoogleApiException e) =>
        (e.Error?.Message ?? e.Message).Contains("bucket", StringComparison.OrdinalIgnoreCase);

    private StorageException Translate(Exception e, StorageOperation operation, string? key) => e switch
    {
        // 401: the credential itself is refused (a deleted or disabled key, a revoked or expired token); no role grant
        // helps, unlike 403, where the credential is valid but lacks the permission.
        GoogleApiException g when g.HttpStatusCode == HttpStatusCode.Unauthorized =>
            _failures.Refused(e, operation, key, $"the server does not accept the credential (401 {g.Error?.Message ?? "Unauthorized"})", _credentialSource),
        // The token endpoint refused to trade the key or refresh token for an access token (invalid_grant: a deleted
        // key, a revoked login); the library throws this before any storage call is made.
        TokenResponseException t =>
            _failures.Refused(e, operation, key, $"the token endpoint does not accept the credential ({t.Error?.Error ?? "refused"})", _credentialSource),
        GoogleApiException g when g.HttpStatusCode == HttpStatusCode.Forbidden => _failures.Denied(e, operation, key, "e.g. roles/storage.objectAdmin"),
        GoogleApiException g when g.HttpStatusCode == HttpStatusCode.NotFound && IsMissingBucket(g) => _failures.MissingBucket(e, operation, key),
        GoogleApiException g => _failures.Failed(e, operation, key, $"{(int)g.HttpStatusCode} {g.Error?.Message ?? g.Message}"),
        _ => _failures.Other(e, operation, key),
    };
}

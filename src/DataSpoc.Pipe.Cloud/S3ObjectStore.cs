using System.Collections.Concurrent;
using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cloud;

/// <summary>
/// An <c>s3://bucket[/prefix]</c> bucket through AWSSDK.S3. Credentials: the AWS default chain (environment keys,
/// <c>AWS_PROFILE</c> incl. SSO, container/instance role). Endpoint for S3-compatible servers: storage option
/// <c>endpoint_url</c>, else <c>AWS_ENDPOINT_URL_S3</c>, else <c>AWS_ENDPOINT_URL</c>.
/// Files above <see cref="MultipartThreshold"/> go up as a multipart upload streamed from disk part by part;
/// a failed or cancelled multipart upload is aborted so no parts are left behind.
/// Conditional writes (the manifest, locks, data files created only if absent) are what concurrent runs rely on, and
/// S3-compatible servers differ: some ignore them, Ceph RGW compares If-Match with the unquoted ETag. So each
/// endpoint and bucket is probed once per process before its first conditional write (a store that ignores them is
/// refused unless storage option <c>conditional_writes: false</c> accepts single-writer mode), and a refused If-Match
/// whose ETag does match modulo quotes is retried in the other form, which is then remembered.
/// </summary>
public sealed class S3ObjectStore : IObjectStore
{
    internal const long MultipartThreshold = 16L << 20;
    /// <summary>The largest object one PutObject may carry.</summary>
    private const long SinglePutLimit = 5L << 30;
    private const int PartConcurrency = 4;
    // S3 allows at most 10,000 parts; keep well below so huge files grow their part size instead.
    private const int MaxParts = 9_000;

    private readonly AmazonS3Client _client;
    private readonly ObjectKeys _keys;
    private readonly StorageFailures _failures;
    private readonly string _bucketName;
    private readonly bool _customEndpoint;
    private readonly bool _singleWriter;
    private readonly string _serverKey;
    /// <summary>Where the credentials came from, for an error that refuses them (names only, never a value).</summary>
    private readonly string _credentialSource;

    /// <summary>Endpoint + bucket -> whether its server enforces conditional writes (probed once per process).</summary>
    private static readonly ConcurrentDictionary<string, bool> ConditionalWriteProbes = new(StringComparer.Ordinal);
    /// <summary>Endpoint + bucket -> true when its server compares If-Match with the unquoted ETag (Ceph RGW, DigitalOcean Spaces).</summary>
    private static readonly ConcurrentDictionary<string, bool> UnquotedIfMatch = new(StringComparer.Ordinal);
    private const int ConflictRetries = 4;

    public S3ObjectStore(BucketUri bucket, IReadOnlyDictionary<string, string>? options = null)
        : this(bucket, CloudSettings.FromProcess(options)) { }

    /// <param name="maxRetryBackoff">
    /// Caps each retry's wait (the SDK's cap is 20 s). Tests only: they talk to a server on this host and would otherwise
    /// wait out the production back-off on every call their faults refuse (and give keys: the default chain ignores it).
    /// Users have no way to set it.
    /// </param>
    internal S3ObjectStore(BucketUri bucket, CloudSettings settings, TimeSpan? maxRetryBackoff = null)
    {
        Bucket = bucket;
        _bucketName = bucket.Bucket;
        _keys = new ObjectKeys(bucket);
        _failures = new StorageFailures("S3", bucket, _keys, "bucket", "credentials");
        var config = new AmazonS3Config
        {
            // Standard mode: exponential backoff with full jitter for throttling, 5xx and timeouts.
            RetryMode = RequestRetryMode.Standard,
            MaxErrorRetry = 5,
            Timeout = TimeSpan.FromMinutes(5),
        };
        var endpoint = settings.Option("endpoint_url") ?? settings.Env("AWS_ENDPOINT_URL_S3") ?? settings.Env("AWS_ENDPOINT_URL");
        var region = settings.Option("region") ?? settings.Env("AWS_REGION") ?? settings.Env("AWS_DEFAULT_REGION");
        if (endpoint is not null)
        {
            _customEndpoint = true;
            config.ServiceURL = endpoint;
            config.AuthenticationRegion = region ?? "us-east-1";
            // S3-compatible servers are usually addressed path-style (no per-bucket DNS names).
            config.ForcePathStyle = settings.Flag("path_style") ?? true;
            // Many S3-compatible servers do not understand the flexible-checksum headers; send them only when required.
            config.RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED;
            config.ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED;
        }
        else
        {
            config.ForcePathStyle = settings.Flag("path_style") ?? false;
            config.RegionEndpoint = region is not null
                ? RegionEndpoint.GetBySystemName(region)
                : FallbackRegionOrDefault();
        }
        _singleWriter = settings.Flag("conditional_writes") == false;
        _serverKey = (endpoint ?? "aws") + "|" + _bucketName;
        var accessKey = settings.Env("AWS_ACCESS_KEY_ID");
        var secretKey = settings.Env("AWS_SECRET_ACCESS_KEY");
        var sessionToken = settings.Env("AWS_SESSION_TOKEN");
        _credentialSource = accessKey is not null && secretKey is not null
            ? "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY" + (sessionToken is null ? "" : " / AWS_SESSION_TOKEN")
            : settings.Env("AWS_PROFILE") is { } profile
                ? $"the profile '{profile}' named by AWS_PROFILE"
                : "the AWS default chain (the default profile in ~/.aws, SSO, or a container/instance role)";
        // Environment keys first (as the default chain does); otherwise the SDK's chain: profile/SSO, container, instance role.
        AWSCredentials? keys = accessKey is not null && secretKey is not null
            ? sessionToken is null ? new BasicAWSCredentials(accessKey, secretKey) : new SessionAWSCredentials(accessKey, secretKey, sessionToken)
            : null;
        _client = keys is null ? new AmazonS3Client(config)
            : maxRetryBackoff is { } cap ? new CappedBackoffClient(keys, config, (int)cap.TotalMilliseconds)
            : new AmazonS3Client(keys, config);
    }

    /// <summary>An S3 client whose standard-mode retries each wait at most <paramref name="maxBackoffMs"/> (see the constructor).</summary>
    private sealed class CappedBackoffClient(AWSCredentials keys, AmazonS3Config config, int maxBackoffMs) : AmazonS3Client(keys, config)
    {
        // A field initializer: set before the base constructor builds the pipeline.
        private readonly int _maxBackoffMs = maxBackoffMs;

        protected override void CustomizeRuntimePipeline(Amazon.Runtime.Internal.RuntimePipeline pipeline)
        {
            base.CustomizeRuntimePipeline(pipeline);
            pipeline.ReplaceHandler<Amazon.Runtime.Internal.RetryHandler>(new Amazon.Runtime.Internal.RetryHandler(
                new Amazon.Runtime.Internal.StandardRetryPolicy(Config) { MaxBackoffInMilliseconds = _maxBackoffMs }));
        }
    }

    public BucketUri Bucket { get; }

    public async Task PutFileAsync(string key, string localPath, CancellationToken cancellationToken)
    {
        var name = _keys.Name(key);
        var size = new FileInfo(localPath).Length;
        try
        {
            if (size <= MultipartThreshold)
            {
                // One PUT: visible only complete, and created only if absent, so a data file never replaces another
                // writer's. Chunk encoding off: some S3-compatible servers store the aws-chunked framing inside the
                // object; real S3 accepts both.
                await _client.PutObjectAsync(new PutObjectRequest
                {
                    BucketName = _bucketName,
                    Key = name,
                    FilePath = localPath,
                    UseChunkEncoding = false,
                    IfNoneMatch = "*",
                }, cancellationToken).ConfigureAwait(false);
                return;
            }
        }
        catch (AmazonS3Exception e) when (IsConflict(e))
        {
            // Our own PUT may have landed with its response lost, and the SDK's retry then finds the key taken.
            if (await IsSameContentAsync(name, localPath, cancellationToken).ConfigureAwait(false)) return;
            throw new StorageException($"{_keys.Describe(key)} already exists (another writer created it); data files are created only if absent, so nothing was overwritten", e);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw Translate(e, StorageOperation.Put, key);
        }
        await PutMultipartAsync(key, name, localPath, size, cancellationToken).ConfigureAwait(false);
    }

    private async Task PutMultipartAsync(string key, string name, string localPath, long size, CancellationToken cancellationToken)
    {
        var partSize = Math.Max(MultipartThreshold, (size + MaxParts - 1) / MaxParts);
        var partCount = (int)((size + partSize - 1) / partSize);
        InitiateMultipartUploadResponse started;
        try
        {
            started = await _client.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest
            {
                BucketName = _bucketName,
                Key = name,
                ChecksumAlgorithm = _customEndpoint ? null : ChecksumAlgorithm.CRC32,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw Translate(e, StorageOperation.Put, key);
        }
        try
        {
            var parts = new PartETag[partCount];
            using var slots = new SemaphoreSlim(PartConcurrency);
            using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var uploads = Enumerable.Range(0, partCount).Select(async index =>
            {
                await slots.WaitAsync(failed.Token).ConfigureAwait(false);
                try
                {
                    var position = index * partSize;
                    // The SDK reads the part straight from the file at this offset: no part is buffered in memory.
                    var response = await _client.UploadPartAsync(new UploadPartRequest
                    {
                        BucketName = _bucketName,
                        Key = name,
                        UploadId = started.UploadId,
                        PartNumber = index + 1,
                        FilePath = localPath,
                        FilePosition = position,
                        PartSize = Math.Min(partSize, size - position),
                        IsLastPart = index == partCount - 1,
                        UseChunkEncoding = false,
                        ChecksumAlgorithm = _customEndpoint ? null : ChecksumAlgorithm.CRC32,
                    }, failed.Token).ConfigureAwait(false);
                    parts[index] = new PartETag { PartNumber = index + 1, ETag = response.ETag, ChecksumCRC32 = response.ChecksumCRC32 };
                }
                catch
                {
                    await failed.CancelAsync().ConfigureAwait(false);
                    throw;
                }
                finally
                {
                    slots.Release();
                }
            }).ToList();
            try
            {
                await Task.WhenAll(uploads).ConfigureAwait(false);
            }
            catch
            {
                // Surface the first real failure rather than the cancellations it caused in sibling parts.
                var first = uploads.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!).FirstOrDefault();
                if (first is not null && !cancellationToken.IsCancellationRequested) throw first;
                throw;
            }
            // No If-None-Match here: not every server enforces it on completion (Ceph RGW ignores it), so data file
            // names are unique per run instead (LakePaths.DataFileName).
            await _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _bucketName,
                Key = name,
                UploadId = started.UploadId,
                PartETags = [.. parts],
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await AbortQuietlyAsync(name, started.UploadId).ConfigureAwait(false);
            if (e is OperationCanceledException) throw;
            throw Translate(e, StorageOperation.Put, key);
        }
    }

    private async Task AbortQuietlyAsync(string name, string uploadId)
    {
        try
        {
            // Not tied to the caller's token: a cancelled upload must still be cleaned up.
            using var timeout = new CancellationTokenSource(UnfinishedUploads.DiscardTimeout);
            await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest
            {
                BucketName = _bucketName,
                Key = name,
                UploadId = uploadId,
            }, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The original failure is what the caller needs; the commit's rollback (or the next run's recovery) aborts
            // the upload again, and a bucket lifecycle rule removes what neither could.
        }
    }

    public async Task<bool> PutAsync(string key, ReadOnlyMemory<byte> content, WriteCondition condition, CancellationToken cancellationToken)
    {
        if (condition.Kind != WriteConditionKind.None) await EnsureConditionalWritesAsync(cancellationToken).ConfigureAwait(false);
        var name = _keys.Name(key);
        var unquoted = UnquotedIfMatch.GetValueOrDefault(_serverKey);
        var refused = await TryPutAsync(key, name, Body(content), condition, unquoted, cancellationToken).ConfigureAwait(false);
        if (refused is null) return true;
        // The SDK retries a PUT whose response was lost; a refusal may be that retry finding our own first attempt.
        if (await OwnWrites.HoldsAsync(this, key, content, condition, cancellationToken).ConfigureAwait(false)) return true;
        if (condition.Kind == WriteConditionKind.IfVersion && refused.StatusCode == HttpStatusCode.PreconditionFailed
            && await CurrentETagAsync(name, cancellationToken).ConfigureAwait(false) is { } current
            && Unquote(current) == Unquote(condition.Version!))
        {
            // The object is still the version we hold, yet If-Match was refused: the server compares the other ETag form.
            if (await TryPutAsync(key, name, Body(content), condition, !unquoted, cancellationToken).ConfigureAwait(false) is null)
            {
                UnquotedIfMatch[_serverKey] = !unquoted;
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Uploads the file in one PutObject streamed from disk (the SDK reads it from the file, and again from its start on a
    /// retry) with If-None-Match: *, as <see cref="PutAsync"/> writes content created only if absent: the same probe,
    /// single-writer mode, RGW retries, and a refusal that is our own write whose response was lost (compared streaming).
    /// Not multipart: Ceph RGW ignores conditions on completing one, and a log entry is far below the 5 GB a PUT takes.
    /// </summary>
    public async Task<bool> PutFileIfAbsentAsync(string key, string localPath, CancellationToken cancellationToken)
    {
        var size = new FileInfo(localPath).Length;
        if (size > SinglePutLimit)
            throw new StorageException($"{_keys.Describe(key)}: {size} bytes cannot be created only if absent on S3 (one conditional PUT takes at most 5 GB)");
        await EnsureConditionalWritesAsync(cancellationToken).ConfigureAwait(false);
        var refused = await TryPutAsync(key, _keys.Name(key), request => request.FilePath = localPath, WriteCondition.IfAbsent, false, cancellationToken).ConfigureAwait(false);
        return refused is null || await OwnWrites.HoldsFileAsync(this, key, localPath, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A PUT body of bytes in memory.</summary>
    private static Action<PutObjectRequest> Body(ReadOnlyMemory<byte> content) =>
        request => request.InputStream = new MemoryStream(content.ToArray(), writable: false);

    /// <summary>One conditional PUT of the body <paramref name="setBody"/> gives each attempt; null when written, else the refusal (412 condition false, 409 a concurrent conditional write won).</summary>
    private async Task<AmazonS3Exception?> TryPutAsync(string key, string name, Action<PutObjectRequest> setBody, WriteCondition condition, bool unquotedETag, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var request = new PutObjectRequest
            {
                BucketName = _bucketName,
                Key = name,
                UseChunkEncoding = false,
            };
            setBody(request);
            switch (condition.Kind)
            {
                case WriteConditionKind.IfAbsent: request.IfNoneMatch = "*"; break;
                case WriteConditionKind.IfVersion: request.IfMatch = unquotedETag ? Unquote(condition.Version!) : "\"" + Unquote(condition.Version!) + "\""; break;
            }
            try
            {
                await _client.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
                return null;
            }
            catch (AmazonS3Exception e) when (condition.Kind != WriteConditionKind.None
                && (IsConflict(e) || (condition.Kind == WriteConditionKind.IfVersion && e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode == "NoSuchKey")))
            {
                return e;
            }
            catch (AmazonS3Exception e) when (condition.Kind != WriteConditionKind.None && e.StatusCode == HttpStatusCode.InternalServerError && attempt < ConflictRetries)
            {
                // Ceph RGW answers a conditional PUT that lost a race with 500 (ECANCELED) where AWS answers 409: the
                // write did not happen, so asking again gets the real answer (usually 412).
                await Task.Delay(Random.Shared.Next(10, 50 * attempt), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw Translate(e, StorageOperation.Put, key);
            }
        }
    }

    /// <summary>
    /// Checks once per process that this endpoint and bucket refuse a second create-if-absent of one key. A server that
    /// accepts it would let concurrent runs overwrite each other's manifest entries and locks without anyone noticing.
    /// </summary>
    private async Task EnsureConditionalWritesAsync(CancellationToken cancellationToken)
    {
        if (_singleWriter) return;
        if (!ConditionalWriteProbes.TryGetValue(_serverKey, out var enforced))
        {
            // Our own key: metadata lives under .dataspoc/, and a probe never collides with another's.
            var key = $"{Lake.LakePaths.ProbePrefix}conditional-write-{Guid.NewGuid():N}";
            var name = _keys.Name(key);
            try
            {
                if (await TryPutAsync(key, name, Body("1"u8.ToArray()), WriteCondition.IfAbsent, false, cancellationToken).ConfigureAwait(false) is not null)
                    throw new StorageException($"S3 put of {_keys.Describe(key)} with If-None-Match: * was refused although the key is new; cannot check the store's conditional writes");
                enforced = await TryPutAsync(key, name, Body("2"u8.ToArray()), WriteCondition.IfAbsent, false, cancellationToken).ConfigureAwait(false) is not null;
            }
            catch
            {
                // The probe's PUT failed (wrong key or secret, missing bucket, no connection): that error is the answer
                // the user needs. The clean-up fails the same way, or with an answer of its own (Ceph RGW: 405 to a
                // DELETE with a bad signature), and must not replace it; a probe object left behind is harmless.
                try { await DeleteAsync(key, CancellationToken.None).ConfigureAwait(false); }
                catch (Exception cleanup) when (cleanup is StorageException or OperationCanceledException) { }
                throw;
            }
            await DeleteAsync(key, CancellationToken.None).ConfigureAwait(false);
            ConditionalWriteProbes[_serverKey] = enforced;
        }
        if (!enforced)
            throw new StorageException(
                $"{Bucket.Canonical}: the S3 server does not enforce conditional writes (a second PUT with If-None-Match: * of one key was accepted), " +
                "so concurrent runs could overwrite each other's manifest entries and locks. Use a server that enforces them (AWS S3, Ceph RGW), " +
                "or set destination.storage_options.conditional_writes: false to accept single-writer mode (only one run writes to this bucket at a time)");
    }

    private async Task<string?> CurrentETagAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            return (await _client.GetObjectMetadataAsync(_bucketName, name, cancellationToken).ConfigureAwait(false)).ETag;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Whether the object at <paramref name="name"/> is this local file (a single-PUT ETag is the content's MD5).</summary>
    private async Task<bool> IsSameContentAsync(string name, string localPath, CancellationToken cancellationToken)
    {
        var current = await CurrentETagAsync(name, cancellationToken).ConfigureAwait(false);
        if (current is null) return false;
        await using var file = File.OpenRead(localPath);
#pragma warning disable CA5351 // MD5 is what S3 puts in a single-part ETag; it is compared, not trusted for security.
        var md5 = Convert.ToHexStringLower(await MD5.HashDataAsync(file, cancellationToken).ConfigureAwait(false));
#pragma warning restore CA5351
        return Unquote(current) == md5;
    }

    private static bool IsConflict(AmazonS3Exception e) =>
        e.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict;

    private static string Unquote(string etag) => etag.Trim().Trim('"');

    public async Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                using var response = await _client.GetObjectAsync(_bucketName, _keys.Name(key), cancellationToken).ConfigureAwait(false);
                using var buffer = new MemoryStream(response.ContentLength > 0 ? (int)Math.Min(response.ContentLength, int.MaxValue) : 0);
                try
                {
                    await response.ResponseStream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (StorageFailures.IsBrokenBody(e) && attempt < StorageFailures.WholeReadAttempts && !cancellationToken.IsCancellationRequested)
                {
                    continue;
                }
                return new StoredObject(buffer.ToArray(), response.ETag);
            }
        }
        catch (AmazonS3Exception e) when (IsMissingKey(e))
        {
            return null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw Translate(e, StorageOperation.Get, key);
        }
    }

    public async Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _client.GetObjectAsync(_bucketName, _keys.Name(key), cancellationToken).ConfigureAwait(false);
            return new OwningStream(response.ResponseStream, response);
        }
        catch (AmazonS3Exception e) when (IsMissingKey(e))
        {
            throw new FileNotFoundException($"object '{_keys.Describe(key)}' not found", key, e);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw Translate(e, StorageOperation.Get, key);
        }
    }

    public async Task<Stream> OpenReadRangeAsync(string key, long offset, long length, CancellationToken cancellationToken)
    {
        ObjectRange.Check(offset, length);
        try
        {
            var response = await _client.GetObjectAsync(new GetObjectRequest
            {
                BucketName = _bucketName,
                Key = _keys.Name(key),
                ByteRange = new ByteRange(offset, ObjectRange.Last(offset, length)),
            }, cancellationToken).ConfigureAwait(false);
            var body = new OwningStream(response.ResponseStream, response);
            // A server that ignores Range answers 200 with the whole object: the range is then cut from it. A 206 is held to
            // the length too: s3rver answers bytes=0-0 with every byte of the object.
            return ObjectRange.Of(body, response.HttpStatusCode == HttpStatusCode.PartialContent ? 0 : offset, length);
        }
        catch (AmazonS3Exception e) when (IsMissingKey(e))
        {
            throw new FileNotFoundException($"object '{_keys.Describe(key)}' not found", key, e);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            return Stream.Null; // the object ends at or before the offset
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw Translate(e, StorageOperation.Get, key);
        }
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = new ListObjectsV2Request { BucketName = _bucketName, Prefix = _keys.ListPrefix(prefix) };
        while (true)
        {
            ListObjectsV2Response page;
            try
            {
                page = await _client.ListObjectsV2Async(request, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw Translate(e, StorageOperation.List, prefix);
            }
            foreach (var item in page.S3Objects ?? [])
                yield return new ObjectInfo(_keys.Key(item.Key), item.Size ?? 0, item.LastModified is { } at ? new DateTimeOffset(at.ToUniversalTime(), TimeSpan.Zero) : default);
            if (page.IsTruncated != true || string.IsNullOrEmpty(page.NextContinuationToken)) yield break;
            request.ContinuationToken = page.NextContinuationToken;
        }
    }

    public async Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            await _client.DeleteObjectAsync(_bucketName, _keys.Name(key), cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (IsMissingKey(e))
        {
            // Already gone.
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw Translate(e, StorageOperation.Delete, key);
        }
    }

    public async Task DeleteWithUnfinishedUploadsAsync(string key, CancellationToken cancellationToken)
    {
        await DeleteAsync(key, cancellationToken).ConfigureAwait(false);
        // A run killed during a multipart upload (PutMultipartAsync aborts its own failures, a kill cannot) leaves the
        // upload open: its parts stay stored, invisible to listings, until aborted or a bucket lifecycle rule removes them.
        var name = _keys.Name(key);
        try
        {
            var request = new ListMultipartUploadsRequest { BucketName = _bucketName, Prefix = name };
            while (true)
            {
                var page = await _client.ListMultipartUploadsAsync(request, cancellationToken).ConfigureAwait(false);
                foreach (var upload in page.MultipartUploads ?? [])
                    if (upload.Key == name)
                        await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest
                            { BucketName = _bucketName, Key = name, UploadId = upload.UploadId }, cancellationToken).ConfigureAwait(false);
                if (page.IsTruncated != true) break;
                request.KeyMarker = page.NextKeyMarker;
                request.UploadIdMarker = page.NextUploadIdMarker;
            }
        }
        catch (AmazonS3Exception e) when (IsMissingKey(e))
        {
            // The upload completed or was aborted meanwhile.
        }
        catch (AmazonS3Exception e) when (e.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.NotImplemented or HttpStatusCode.MethodNotAllowed)
        {
            // Credentials without s3:ListBucketMultipartUploads, or a server without the call: the parts stay (a lifecycle
            // rule removes them), but the rollback must go on, or every later run of the pipeline would stop here.
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

    private static bool IsMissingKey(AmazonS3Exception e) =>
        e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket";

    private static RegionEndpoint FallbackRegionOrDefault()
    {
        try
        {
            // AWS_REGION, profile region, instance metadata.
            return FallbackRegionFactory.GetRegionEndpoint() ?? RegionEndpoint.USEast1;
        }
        catch (AmazonClientException)
        {
            // S3 itself redirects to the bucket's region; us-east-1 is the global default.
            return RegionEndpoint.USEast1;
        }
    }

    /// <summary>What an S3 error code that refuses the credentials themselves means; null for any other code (AccessDenied: a permission).</summary>
    private static string? RefusedCredentials(string? code) => code switch
    {
        "SignatureDoesNotMatch" => "the secret key does not match the access key id",
        "InvalidAccessKeyId" => "the access key id is unknown to this endpoint",
        "InvalidToken" => "the session token is not valid",
        "ExpiredToken" or "TokenRefreshRequired" => "the session token has expired",
        _ => null,
    };

    private StorageException Translate(Exception e, StorageOperation operation, string? key) => e switch
    {
        // A refused key or secret is no missing permission: an IAM policy hunt would be the wrong hint.
        AmazonS3Exception s3 when s3.StatusCode == HttpStatusCode.Forbidden && RefusedCredentials(s3.ErrorCode) is { } reason =>
            _failures.Refused(e, operation, key, $"{reason} ({s3.ErrorCode})", _credentialSource),
        AmazonS3Exception s3 when s3.StatusCode == HttpStatusCode.Forbidden => _failures.Denied(e, operation, key, s3.ErrorCode),
        AmazonS3Exception s3 when s3.ErrorCode == "NoSuchBucket" => _failures.MissingBucket(e, operation, key),
        AmazonS3Exception s3 => _failures.Failed(e, operation, key, $"{(int)s3.StatusCode} {s3.ErrorCode}: {s3.Message}"),
        AmazonClientException client => _failures.Failed(e, operation, key,
            $"{client.Message} (credentials come from the AWS default chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance role)"),
        _ => _failures.Other(e, operation, key),
    };
}

using System.Net;
using System.Runtime.CompilerServices;
using System.Xml;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cloud;

/// <summary>
/// An <c>az://container[/prefix]</c> bucket (aliases <c>abfs://</c>, <c>abfss://</c>) through Azure.Storage.Blobs.
/// Credentials, first found wins: <c>AZURE_STORAGE_CONNECTION_STRING</c>; <c>AZURE_STORAGE_ACCOUNT_NAME</c> +
/// <c>AZURE_STORAGE_ACCOUNT_KEY</c>; <c>AZURE_STORAGE_ACCOUNT_NAME</c> with <see cref="DefaultAzureCredential"/>
/// (managed identity, <c>az login</c>, ...). The account may also come from storage option <c>account_name</c>
/// or an <c>abfss://container@account.dfs.core.windows.net</c> URI; option <c>endpoint_url</c> overrides the blob endpoint.
/// Large files are staged as blocks streamed from disk and become visible only when the block list is committed.
/// </summary>
public sealed class AzureBlobObjectStore : IObjectStore
{
    private const long SinglePutLimit = 16L << 20;
    private const long BlockSize = 8L << 20;
    private const int ListPageSize = 1_000;

    private readonly BlobContainerClient _container;
    private readonly ObjectKeys _keys;
    private readonly StorageFailures _failures;
    /// <summary>Where the credential came from, for an error that refuses it (names only, never a value).</summary>
    private readonly string _credentialSource;

    public AzureBlobObjectStore(BucketUri bucket, IReadOnlyDictionary<string, string>? options = null)
        : this(bucket, CloudSettings.FromProcess(options)) { }

    internal AzureBlobObjectStore(BucketUri bucket, CloudSettings settings)
    {
        Bucket = bucket;
        _keys = new ObjectKeys(bucket);
        _failures = new StorageFailures("Azure Blob", bucket, _keys, "container", "identity");
        var options = new BlobClientOptions();
        // Exponential backoff (the SDK adds jitter) for throttling (429/503), 5xx and timeouts. Storage option
        // retry_delay sets the first wait (each next one doubles, up to 30 s): a nearby server needs less.
        options.Retry.Mode = RetryMode.Exponential;
        options.Retry.MaxRetries = 5;
        options.Retry.Delay = settings.Duration("retry_delay") ?? TimeSpan.FromMilliseconds(500);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(30);
        options.Retry.NetworkTimeout = TimeSpan.FromMinutes(2);
        options.AddPolicy(new ForeignErrorBodyPolicy(), HttpPipelinePosition.PerCall);
        BlobServiceClient service;
        (service, _credentialSource) = Connect(bucket, settings, options);
        _container = service.GetBlobContainerClient(bucket.Bucket);
    }

    /// <summary>The service client and where its credential came from.</summary>
    private static (BlobServiceClient Client, string CredentialSource) Connect(BucketUri bucket, CloudSettings settings, BlobClientOptions options)
    {
        var connectionString = settings.Env("AZURE_STORAGE_CONNECTION_STRING");
        if (connectionString is not null)
        {
            try { return (new BlobServiceClient(connectionString, options), "the AccountKey or SharedAccessSignature in AZURE_STORAGE_CONNECTION_STRING"); }
            catch (FormatException e) { throw new StorageException($"AZURE_STORAGE_CONNECTION_STRING is not a valid connection string ({bucket})", e); }
        }
        var account = settings.Option("account_name") ?? settings.Env("AZURE_STORAGE_ACCOUNT_NAME") ?? AccountFromUri(bucket.Original)
            ?? throw new StorageException(
                $"no Azure credentials for '{bucket}': set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME " +
                "(with AZURE_STORAGE_ACCOUNT_KEY, or a managed identity / 'az login')");
        var endpoint = new Uri(settings.Option("endpoint_url") ?? $"https://{account}.blob.core.windows.net");
        var key = settings.Env("AZURE_STORAGE_ACCOUNT_KEY");
        return key is not null
            ? (new BlobServiceClient(endpoint, new StorageSharedKeyCredential(account, key), options), $"AZURE_STORAGE_ACCOUNT_KEY (for account '{account}')")
            : (new BlobServiceClient(endpoint, new DefaultAzureCredential(), options), $"the Azure identity of DefaultAzureCredential (managed identity, 'az login') for account '{account}'");
    }

    /// <summary>The account of <c>abfs[s]://container@account.dfs.core.windows.net/...</c>, if the URI names one.</summary>
    private static string? AccountFromUri(string original)
    {
        var sep = original.IndexOf("://", StringComparison.Ordinal);
        if (sep < 0) return null;
        var authority = original[(sep + 3)..].Split('/')[0];
        var at = authority.IndexOf('@');
        if (at < 0) return null;
        var host = authority[(at + 1)..];
        var dot = host.IndexOf('.');
        return dot > 0 ? host[..dot] : host.Length > 0 ? host : null;
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
        var blob = _container.GetBlobClient(_keys.Name(key));
        try
        {
            // Above InitialTransferSize the SDK stages blocks read from the file and commits the block list at
            // the end: nothing is visible before the commit; uncommitted blocks are discarded by the service.
            // If-None-Match: * is on the single PUT, or on the block-list commit.
            await blob.UploadAsync(localPath, new BlobUploadOptions
            {
                Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
                TransferOptions = new StorageTransferOptions
                {
                    InitialTransferSize = SinglePutLimit,
                    MaximumTransferSize = BlockSize,
                    MaximumConcurrency = 4,
                },
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.Conflict)
        {
            // Our own upload may have landed with its response lost, and the SDK's retry then finds the blob taken.
            return await OwnWrites.HoldsFileAsync(this, key, localPath, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw Translate(e, StorageOperation.Put, key);
        }
    }

    public async Task<bool> PutAsync(string key, ReadOnlyMemory<byte> content, WriteCondition condition, CancellationToken cancellationToken)
    {
        var blob = _container.GetBlobClient(_keys.Name(key));
        var conditions = condition.Kind switch
        {
            WriteConditionKind.IfAbsent => new BlobRequestConditions { IfNoneMatch = ETag.All },
            WriteConditionKind.IfVersion => new BlobRequestConditions { IfMatch = new ETag(condition.Version!) },
            _ => null,
        };
        try
        {
            await blob.UploadAsync(BinaryData.FromBytes(content), new BlobUploadOptions { Conditions = conditions }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException e) when (conditions is not null
            && (e.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.Conflict
                || (condition.Kind == WriteConditionKind.IfVersion && e.ErrorCode == BlobErrorCode.BlobNotFound)))
        {
            // 409 BlobAlreadyExists for If-None-Match: *, 412 ConditionNotMet for a stale If-Match; unless the refusal is
            // the SDK's retry of our own write whose response was lost (see OwnWrites).
            return await OwnWrites.HoldsAsync(this, key, content, condition, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw Translate(e, StorageOperation.Put, key);
        }
    }

    public async Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _container.GetBlobClient(_keys.Name(key)).DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            return new StoredObject(response.Value.Content.ToMemory(), response.Value.Details.ETag.ToString());
        }
        catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.BlobNotFound)
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
            var response = await _container.GetBlobClient(_keys.Name(key)).DownloadStreamingAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            return response.Value.Content;
        }
        catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.BlobNotFound)
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
            var response = await _container.GetBlobClient(_keys.Name(key))
                .DownloadStreamingAsync(new BlobDownloadOptions { Range = new HttpRange(offset, length) }, cancellationToken).ConfigureAwait(false);
            // A server that ignores Range answers 200 with the whole blob: the range is then cut from it.
            return response.GetRawResponse().Status == 206 ? response.Value.Content : ObjectRange.Of(response.Value.Content, offset, length);
        }
        catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.BlobNotFound)
        {
            throw new FileNotFoundException($"object '{_keys.Describe(key)}' not found", key, e);
        }
        catch (RequestFailedException e) when (e.Status == 416)
        {
            return Stream.Null; // the blob ends at or before the offset
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw Translate(e, StorageOperation.Get, key);
        }
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Pages of 1,000 like S3 and GCS (the service allows up to 5,000), so pagination is exercised the same way everywhere.
        var pages = _container.GetBlobsAsync(BlobTraits.None, BlobStates.None, _keys.ListPrefix(prefix), cancellationToken).AsPages(pageSizeHint: ListPageSize);
        await using var page = pages.GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            try
            {
                if (!await page.MoveNextAsync().ConfigureAwait(false)) yield break;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw Translate(e, StorageOperation.List, prefix);
            }
            foreach (var item in page.Current.Values)
                yield return new ObjectInfo(_keys.Key(item.Name), item.Properties.ContentLength ?? 0, item.Properties.LastModified ?? default);
        }
    }

    public async Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            await _container.GetBlobClient(_keys.Name(key)).DeleteIfExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw Translate(e, StorageOperation.Delete, key);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private StorageException Translate(Exception e, StorageOperation operation, string? key) => e switch
    {
        // A signature made with the wrong key is no missing permission. Azure says AuthenticationFailed; Azurite says
        // AuthorizationFailure with the same "failed to authenticate" text (a real AuthorizationFailure, e.g. a firewall
        // rule or a SAS without the permission, says "not authorized" and stays a denial).
        RequestFailedException r when r.Status == (int)HttpStatusCode.Forbidden
            && (r.ErrorCode == "AuthenticationFailed" || r.Message.Contains("Server failed to authenticate the request", StringComparison.Ordinal)) =>
            _failures.Refused(e, operation, key, $"the key or signature does not match the account ({r.ErrorCode})", _credentialSource),
        RequestFailedException r when r.Status == (int)HttpStatusCode.Forbidden => _failures.Denied(e, operation, key, r.ErrorCode ?? ""),
        RequestFailedException r when r.ErrorCode == BlobErrorCode.ContainerNotFound => _failures.MissingBucket(e, operation, key),
        // The SDK's retries end in one exception gathering every attempt's, its message advice on ClientOptions (not
        // something a user sets: storage_options.retry_delay is) and each cause again: the cause once, and the count.
        AggregateException retries when retries.InnerExceptions.Count > 0 && retries.InnerExceptions.All(IsTransport) =>
            _failures.Unreachable(e, operation, key, string.Join("; ", retries.InnerExceptions.Select(TransportCause).Distinct()), retries.InnerExceptions.Count),
        _ when IsTransport(e) => _failures.Unreachable(e, operation, key, TransportCause(e)),
        RequestFailedException r when r.InnerException is XmlException => _failures.Failed(e, operation, key, r.Message),
        RequestFailedException r => _failures.Failed(e, operation, key, $"{r.Status} {r.ErrorCode}"),
        AuthenticationFailedException auth => _failures.Failed(e, operation, key,
            $"no usable credential ({auth.Message.Split('\n')[0]}); set AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_KEY, or sign in with 'az login'"),
        _ => _failures.Other(e, operation, key),
    };

    /// <summary>
    /// An error answer whose body says it is XML but is not the service's error document (a gateway's or proxy's own page):
    /// the SDK's error parser would throw its XML error, which names neither the status nor the answer. Sits after the
    /// retries (per call), so the answer is the last one; any other answer passes untouched.
    /// </summary>
    private sealed class ForeignErrorBodyPolicy : HttpPipelinePolicy
    {
        private const int ShownBody = 200;

        public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            ProcessNext(message, pipeline);
            if (!IsXmlError(message.Response)) return;
            var body = new MemoryStream();
            message.Response.ContentStream!.CopyTo(body);
            Check(message.Response, body.ToArray());
        }

        public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            await ProcessNextAsync(message, pipeline).ConfigureAwait(false);
            if (!IsXmlError(message.Response)) return;
            var body = new MemoryStream();
            await message.Response.ContentStream!.CopyToAsync(body).ConfigureAwait(false);
            Check(message.Response, body.ToArray());
        }

        private static bool IsXmlError(Response response) =>
            response.Status >= 400 && response.ContentStream is not null && response.Headers.ContentType?.Contains("xml", StringComparison.OrdinalIgnoreCase) == true;

        /// <summary>Leaves the body in the response for the SDK to read again; throws when it is not XML.</summary>
        private static void Check(Response response, byte[] body)
        {
            response.ContentStream = new MemoryStream(body, writable: false);
            if (body.Length == 0) return;
            try
            {
                using var reader = System.Xml.XmlReader.Create(new MemoryStream(body), new System.Xml.XmlReaderSettings { DtdProcessing = System.Xml.DtdProcessing.Prohibit });
                while (reader.Read()) { }
            }
            catch (XmlException e)
            {
                var text = System.Text.Encoding.UTF8.GetString(body).ReplaceLineEndings(" ").Trim();
                var shown = text.Length <= ShownBody ? text : text[..ShownBody] + "...";
                response.Headers.TryGetValue("x-ms-error-code", out var code);
                throw new RequestFailedException(response.Status, $"{response.Status}{(code is null ? "" : " " + code)} (an answer that is not the service's error document: {shown})", code, e);
            }
        }
    }

    /// <summary>
    /// No answer from the endpoint: the SDK reports a failed send as a <see cref="RequestFailedException"/> of status 0
    /// around the HTTP client's exception, and an attempt past <c>NetworkTimeout</c> as a <see cref="TaskCanceledException"/>.
    /// </summary>
    private static bool IsTransport(Exception e) => e switch
    {
        RequestFailedException { Status: 0, InnerException: { } inner } => StorageFailures.IsTransport(inner) || inner is IOException,
        TaskCanceledException => true,
        _ => StorageFailures.IsTransport(e),
    };

    private static string TransportCause(Exception e) => e switch
    {
        RequestFailedException { Status: 0, InnerException: { } inner } => StorageFailures.TransportCause(inner),
        TaskCanceledException => "no answer within the network timeout",
        _ => StorageFailures.TransportCause(e),
    };
}

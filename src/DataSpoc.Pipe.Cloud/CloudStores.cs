using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cloud;

/// <summary>Adds the cloud buckets (<c>s3://</c>, <c>gs://</c>, <c>az://</c>) to an <see cref="ObjectStoreFactory"/>.</summary>
public static class CloudStores
{
    /// <summary>
    /// Registers S3, GCS and Azure Blob. Credentials come from each cloud's standard chain (environment, profile,
    /// ADC, managed identity); the options are the pipeline's <c>destination.storage_options</c>
    /// (<c>endpoint_url</c>, <c>region</c>, <c>path_style</c>, <c>account_name</c>).
    /// </summary>
    public static ObjectStoreFactory Register(ObjectStoreFactory factory) => Register(factory, Environment.GetEnvironmentVariable);

    /// <summary>Same, reading environment variables through <paramref name="environment"/> (tests give each server its own).</summary>
    internal static ObjectStoreFactory Register(ObjectStoreFactory factory, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(factory);
        var settings = (IReadOnlyDictionary<string, string> options) => new CloudSettings(options, environment);
        return factory
            .Register("s3", (uri, options) => new S3ObjectStore(uri, settings(options)))
            .Register("gs", (uri, options) => new GcsObjectStore(uri, settings(options)))
            .Register("az", (uri, options) => new AzureBlobObjectStore(uri, settings(options)));
    }
}

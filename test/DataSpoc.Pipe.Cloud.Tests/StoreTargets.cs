using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cloud.Tests;

/// <summary>One kind of bucket under test: its URI at a prefix, and a store factory talking to its server directly or through a proxy port.</summary>
public abstract class StoreTarget
{
    public abstract string Name { get; }

    /// <summary>The port the store normally talks to (proxies forward here).</summary>
    public virtual int ServerPort => throw new NotSupportedException($"{Name} has no server");

    /// <summary>The bucket URI of <paramref name="prefix"/> in the test bucket.</summary>
    public abstract string Uri(string prefix);

    /// <summary>A store factory as the CLI would build it, with the environment pointing at <paramref name="port"/> (default: the server).</summary>
    public abstract ObjectStoreFactory Factory(int? port = null);

    /// <summary>The pipeline's <c>destination.storage_options</c> this server needs.</summary>
    public virtual IReadOnlyDictionary<string, string> StorageOptions { get; } = new Dictionary<string, string>();

    /// <summary>Opens a store on the bucket at <c>prefix</c>.</summary>
    public IObjectStore Open(string prefix, int? port = null) => Factory(port).Open(Uri(prefix), StorageOptions);

    public override string ToString() => Name;

    public static string NewPrefix() => "t-" + Guid.NewGuid().ToString("N")[..10];
}

public sealed class LocalTarget : StoreTarget
{
    private readonly string _root = Directory.CreateTempSubdirectory("local-store-").FullName;
    public override string Name => "file://";
    public override string Uri(string prefix) => $"file://{_root}/{prefix}";
    public override ObjectStoreFactory Factory(int? port = null) => new();
}

public sealed class S3Target(CloudServers servers) : StoreTarget
{
    public override string Name => "s3:// (s3rver)";
    public override int ServerPort => servers.S3.Port;
    /// <summary>s3rver ignores If-None-Match / If-Match: only single-writer mode is safe there.</summary>
    public override IReadOnlyDictionary<string, string> StorageOptions { get; } = new Dictionary<string, string> { ["conditional_writes"] = "false" };
    public override string Uri(string prefix) => $"s3://{CloudServers.BucketName}/{prefix}";

    /// <summary>
    /// s3rver is on this host: the fault tests' retries (each one still made) wait at most 1 s each, not the SDK's 20 s;
    /// a call answered 503 throughout then fails in seconds instead of half a minute.
    /// </summary>
    public override ObjectStoreFactory Factory(int? port = null)
    {
        var environment = CloudServers.S3Environment(port ?? ServerPort);
        return CloudServers.Factory(environment).Register("s3", (uri, options) =>
            new S3ObjectStore(uri, new CloudSettings(options, name => environment.GetValueOrDefault(name)), maxRetryBackoff: TimeSpan.FromSeconds(1)));
    }
}

public sealed class AzureTarget(CloudServers servers) : StoreTarget
{
    public override string Name => "az:// (Azurite)";
    public override int ServerPort => servers.Azure.Port;
    /// <summary>
    /// Azurite is on this host: the fault tests' retries (each one still made) wait 0.2-3.2 s apart, not 0.5-8 s. Not
    /// less: a retry must still outlast Azurite stalling for seconds on a loaded machine.
    /// </summary>
    public override IReadOnlyDictionary<string, string> StorageOptions { get; } = new Dictionary<string, string> { ["retry_delay"] = "200ms" };
    public override string Uri(string prefix) => $"az://{CloudServers.BucketName}/{prefix}";
    public override ObjectStoreFactory Factory(int? port = null) => CloudServers.Factory(servers.AzureEnvironment(port ?? ServerPort));
}

public sealed class GcsTarget(CloudServers servers) : StoreTarget
{
    public override string Name => "gs:// (GCS stand-in)";
    public override int ServerPort => servers.Gcs.Port;
    public override string Uri(string prefix) => $"gs://{CloudServers.BucketName}/{prefix}";
    public override ObjectStoreFactory Factory(int? port = null) => CloudServers.Factory(CloudServers.GcsEnvironment(port ?? ServerPort));
}

/// <summary>Ceph's RADOS Gateway: an S3 server that enforces conditional writes (with its own ETag and multipart quirks).</summary>
public sealed class CephTarget(Servers.CephRgwServer server) : StoreTarget
{
    public override string Name => "s3:// (Ceph RGW)";
    public override int ServerPort => server.Port;
    public override string Uri(string prefix) => $"s3://{Servers.CephRgwServer.BucketName}/{prefix}";
    public override ObjectStoreFactory Factory(int? port = null) =>
        CloudServers.Factory(new Dictionary<string, string>(server.Environment()) { ["AWS_ENDPOINT_URL_S3"] = $"http://127.0.0.1:{port ?? ServerPort}" });
}

using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cloud.Tests;

/// <summary>One kind of bucket under test: how to open a store at a fresh prefix, directly or through a proxy port.</summary>
public abstract class StoreTarget
{
    public abstract string Name { get; }

    /// <summary>The port the store normally talks to (proxies forward here).</summary>
    public virtual int ServerPort => throw new NotSupportedException($"{Name} has no server");

    /// <summary>Opens a store on the bucket at <c>prefix</c>, talking to <paramref name="port"/> (default: the server itself).</summary>
    public abstract IObjectStore Open(string prefix, int? port = null);

    public override string ToString() => Name;

    public static string NewPrefix() => "t-" + Guid.NewGuid().ToString("N")[..10];
}

public sealed class LocalTarget : StoreTarget
{
    private readonly string _root = Directory.CreateTempSubdirectory("local-store-").FullName;
    public override string Name => "file://";
    public override IObjectStore Open(string prefix, int? port = null) => new LocalObjectStore(BucketUri.Parse($"file://{_root}/{prefix}"));
}

public sealed class S3Target(CloudServers servers) : StoreTarget
{
    public override string Name => "s3:// (s3rver)";
    public override int ServerPort => servers.S3.Port;
    public override IObjectStore Open(string prefix, int? port = null) =>
        CloudServers.Factory(CloudServers.S3Environment(port ?? ServerPort)).Open($"s3://{CloudServers.BucketName}/{prefix}");
}

public sealed class AzureTarget(CloudServers servers) : StoreTarget
{
    public override string Name => "az:// (Azurite)";
    public override int ServerPort => servers.Azure.Port;
    public override IObjectStore Open(string prefix, int? port = null) =>
        CloudServers.Factory(servers.AzureEnvironment(port ?? ServerPort)).Open($"az://{CloudServers.BucketName}/{prefix}");
}

public sealed class GcsTarget(CloudServers servers) : StoreTarget
{
    public override string Name => "gs:// (GCS stand-in)";
    public override int ServerPort => servers.Gcs.Port;
    public override IObjectStore Open(string prefix, int? port = null) =>
        CloudServers.Factory(CloudServers.GcsEnvironment(port ?? ServerPort)).Open($"gs://{CloudServers.BucketName}/{prefix}");
}

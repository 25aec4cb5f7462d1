using Amazon.S3;
using Amazon.S3.Model;
using Azure.Storage.Blobs;
using DataSpoc.Pipe.Cloud.Tests.Servers;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cloud.Tests;

/// <summary>
/// The three cloud test servers (s3rver, Azurite, the GCS stand-in), started once per test run on free loopback
/// ports with one bucket each, and the environment each store reads its credentials and endpoint from.
/// Each collection below declares this fixture, so xunit makes one per collection; they all hand out one shared set
/// of servers (started by the first, stopped by the last), so the collections run side by side on the same servers.
/// </summary>
public sealed class CloudServers : IAsyncLifetime
{
    public const string BucketName = "lake";

    private static readonly SemaphoreSlim SharedGate = new(1, 1);
    private static Servers? _shared;
    private static int _users;
    private Servers? _servers;

    private sealed class Servers
    {
        public S3rverServer S3 { get; } = new();
        public AzuriteServer Azure { get; } = new();
        public GcsStandInServer Gcs { get; } = new();
    }

    private Servers Started => _servers ?? throw new InvalidOperationException("the cloud servers are used before the fixture started them");
    public S3rverServer S3 => Started.S3;
    public AzuriteServer Azure => Started.Azure;
    public GcsStandInServer Gcs => Started.Gcs;

    public async Task InitializeAsync()
    {
        await SharedGate.WaitAsync();
        try
        {
            if (_shared is null)
            {
                var servers = new Servers();
                await Task.WhenAll(servers.S3.StartAsync(), servers.Azure.StartAsync());
                await CreateBucketsAsync(servers.S3.Endpoint, servers.Azure.ConnectionString(), servers.Gcs, BucketName);
                _shared = servers;
            }
            _users++;
            _servers = _shared;
        }
        finally
        {
            SharedGate.Release();
        }
    }

    public static async Task CreateBucketsAsync(string s3Endpoint, string azureConnectionString, GcsStandInServer gcs, string bucket)
    {
        using (var s3 = new AmazonS3Client(S3rverServer.AccessKey, S3rverServer.SecretKey, new AmazonS3Config { ServiceURL = s3Endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1" }))
            await s3.PutBucketAsync(new PutBucketRequest { BucketName = bucket });
        await new BlobContainerClient(azureConnectionString, bucket).CreateIfNotExistsAsync();
        gcs.CreateBucket(bucket);
    }

    /// <summary>The environment an S3 store sees: keys plus the standard endpoint variable.</summary>
    public static Dictionary<string, string> S3Environment(int port) => new()
    {
        ["AWS_ACCESS_KEY_ID"] = S3rverServer.AccessKey,
        ["AWS_SECRET_ACCESS_KEY"] = S3rverServer.SecretKey,
        ["AWS_ENDPOINT_URL_S3"] = $"http://127.0.0.1:{port}",
    };

    public Dictionary<string, string> AzureEnvironment(int? port = null) => new()
    {
        ["AZURE_STORAGE_CONNECTION_STRING"] = Azure.ConnectionString(port),
    };

    public static Dictionary<string, string> GcsEnvironment(int port) => new()
    {
        ["STORAGE_EMULATOR_HOST"] = $"127.0.0.1:{port}",
    };

    /// <summary>A factory whose cloud stores read only <paramref name="environment"/>, never the test process's own variables.</summary>
    public static ObjectStoreFactory Factory(IReadOnlyDictionary<string, string> environment) =>
        CloudStores.Register(new ObjectStoreFactory(), name => environment.GetValueOrDefault(name));

    public async Task DisposeAsync()
    {
        await SharedGate.WaitAsync();
        try
        {
            if (_servers is null || --_users > 0) return;
            _shared = null;
            await _servers.S3.DisposeAsync();
            await _servers.Azure.DisposeAsync();
            await _servers.Gcs.DisposeAsync();
        }
        finally
        {
            _servers = null;
            SharedGate.Release();
        }
    }
}

// One collection per server (tests of one server run one after another, as they always did; the servers' collections
// run side by side, each test in its own prefix). The file:// tests have no server and run in their own collections.

[CollectionDefinition(Name)]
public sealed class S3rverCollection : ICollectionFixture<CloudServers>
{
    public const string Name = "s3rver";
}

[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<CloudServers>
{
    public const string Name = "azurite";
}

[CollectionDefinition(Name)]
public sealed class GcsStandInCollection : ICollectionFixture<CloudServers>
{
    public const string Name = "gcs stand-in";
}

/// <summary>
/// Tests that measure this process's memory (the 200 MB uploads): they run alone, after every other collection, so
/// no other test's allocations count against them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeasuredAloneCollection : ICollectionFixture<CloudServers>
{
    public const string Name = "measured alone";
}

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
/// of servers, so the collections run side by side on the same servers. The set is started by the first collection
/// and stopped when the test process exits, not when a collection ends: the collection that runs alone comes after
/// all the others, and starting the servers again for it costs time (and, on a loaded machine, timed out).
/// </summary>
public sealed class CloudServers : IAsyncLifetime
{
    public const string BucketName = "lake";

    private static readonly SemaphoreSlim SharedGate = new(1, 1);
    private static Servers? _shared;
    private Servers? _servers;

    private sealed class Servers
    {
        public S3rverServer S3 { get; } = new();
        public AzuriteServer Azure { get; } = new();
        public GcsStandInServer Gcs { get; } = new();

        /// <summary>All at once: at process exit the test host may not wait long.</summary>
        public Task StopAsync() => Task.WhenAll(S3.DisposeAsync().AsTask(), Azure.DisposeAsync().AsTask(), Gcs.DisposeAsync().AsTask());
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
                try
                {
                    await Task.WhenAll(servers.S3.StartAsync(), servers.Azure.StartAsync());
                    await CreateBucketsAsync(servers.S3.Endpoint, servers.Azure.ConnectionString(), servers.Gcs, BucketName);
                }
                catch
                {
                    await servers.StopAsync(); // the one that did start; the next collection tries again
                    throw;
                }
                _shared = servers;
                AppDomain.CurrentDomain.ProcessExit += (_, _) => servers.StopAsync().GetAwaiter().GetResult();
            }
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

    /// <summary>Nothing to stop here: the shared servers stop when the test process exits (see above).</summary>
    public Task DisposeAsync()
    {
        _servers = null;
        return Task.CompletedTask;
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

using Amazon.S3;
using Amazon.S3.Model;
using Azure.Storage.Blobs;
using DataSpoc.Pipe.Cloud.Tests.Servers;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cloud.Tests;

/// <summary>
/// The three cloud test servers (s3rver, Azurite, the GCS stand-in), started once per test run on free loopback
/// ports with one bucket each, and the environment each store reads its credentials and endpoint from.
/// </summary>
public sealed class CloudServers : IAsyncLifetime
{
    public const string BucketName = "lake";

    public S3rverServer S3 { get; } = new();
    public AzuriteServer Azure { get; } = new();
    public GcsStandInServer Gcs { get; } = new();

    public async Task InitializeAsync()
    {
        await Task.WhenAll(S3.StartAsync(), Azure.StartAsync());
        await CreateBucketsAsync(S3.Endpoint, Azure.ConnectionString(), Gcs, BucketName);
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
        await S3.DisposeAsync();
        await Azure.DisposeAsync();
        await Gcs.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class CloudServersCollection : ICollectionFixture<CloudServers>
{
    public const string Name = "cloud servers";
}

using System.Security.Cryptography;
using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Cloud.Tests.Runs;
using DataSpoc.Pipe.Cloud.Tests.Servers;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cloud.Tests;

/// <summary>
/// The credential and endpoint routes of the seed page that a loopback server can exercise, and the errors a user
/// sees for a missing bucket or a denied permission. (Routes that probe a cloud metadata service — AWS instance role,
/// GCP metadata server, Azure managed identity — are not exercised: tests reach nothing but 127.0.0.1.)
/// </summary>
// With the GCS stand-in's tests: it changes the stand-in's state (a bucket that denies access).
[Collection(GcsStandInCollection.Name)]
public sealed class CredentialAndErrorTests(CloudServers servers)
{
    private static readonly CancellationToken Soon = new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    private static async Task AssertRoundTripAsync(IObjectStore store)
    {
        await using (store)
        {
            Assert.True(await store.PutAsync("probe.json", "{}"u8.ToArray(), WriteCondition.None, Soon));
            Assert.Equal("{}"u8.ToArray(), (await store.GetAsync("probe.json", Soon))!.Content.ToArray());
            Assert.Single(await store.ListAsync("", Soon).ToListAsync());
        }
    }

    [Fact]
    public void A_retry_delay_that_is_not_a_duration_is_refused_naming_the_option()
    {
        var options = new Dictionary<string, string> { ["retry_delay"] = "soon" };
        foreach (var (factory, bucket) in new[]
        {
            (CloudServers.Factory(servers.AzureEnvironment()), "az://lake/p"),
            (CloudServers.Factory(CloudServers.GcsEnvironment(servers.Gcs.Port)), "gs://lake/p"),
        })
        {
            var refused = Assert.Throws<StorageException>(() => factory.Open(bucket, options));
            Assert.Contains("storage option 'retry_delay': 'soon' is not a duration (e.g. 500ms or 2s)", refused.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task S3_takes_endpoint_region_and_path_style_from_storage_options()
    {
        var env = new Dictionary<string, string> { ["AWS_ACCESS_KEY_ID"] = S3rverServer.AccessKey, ["AWS_SECRET_ACCESS_KEY"] = S3rverServer.SecretKey };
        var options = new Dictionary<string, string> { ["endpoint_url"] = servers.S3.Endpoint, ["region"] = "eu-west-1", ["path_style"] = "true" };
        await AssertRoundTripAsync(CloudServers.Factory(env).Open($"s3://{CloudServers.BucketName}/{StoreTarget.NewPrefix()}", options));
    }

    [Fact]
    public async Task S3_falls_back_to_AWS_ENDPOINT_URL_when_the_S3_specific_variable_is_unset()
    {
        var env = new Dictionary<string, string>
        {
            ["AWS_ACCESS_KEY_ID"] = S3rverServer.AccessKey,
            ["AWS_SECRET_ACCESS_KEY"] = S3rverServer.SecretKey,
            ["AWS_ENDPOINT_URL"] = servers.S3.Endpoint,
            ["AWS_REGION"] = "us-west-2",
        };
        await AssertRoundTripAsync(CloudServers.Factory(env).Open($"s3://{CloudServers.BucketName}/{StoreTarget.NewPrefix()}"));
    }

    [Fact]
    public async Task Azure_connects_with_account_name_and_key_and_an_endpoint_option()
    {
        var env = new Dictionary<string, string> { ["AZURE_STORAGE_ACCOUNT_NAME"] = AzuriteServer.AccountName, ["AZURE_STORAGE_ACCOUNT_KEY"] = AzuriteServer.AccountKey };
        var options = new Dictionary<string, string> { ["endpoint_url"] = servers.Azure.BlobEndpoint };
        await AssertRoundTripAsync(CloudServers.Factory(env).Open($"az://{CloudServers.BucketName}/{StoreTarget.NewPrefix()}", options));
    }

    [Fact]
    public async Task Abfss_and_gcs_aliases_open_the_azure_and_gcs_stores()
    {
        await AssertRoundTripAsync(CloudServers.Factory(servers.AzureEnvironment())
            .Open($"abfss://{CloudServers.BucketName}@{AzuriteServer.AccountName}.dfs.core.windows.net/{StoreTarget.NewPrefix()}"));
        await AssertRoundTripAsync(CloudServers.Factory(CloudServers.GcsEnvironment(servers.Gcs.Port))
            .Open($"gcs://{CloudServers.BucketName}/{StoreTarget.NewPrefix()}"));
    }

    [Fact]
    public async Task Gcs_emulator_host_may_be_given_with_its_scheme()
    {
        var env = new Dictionary<string, string> { ["STORAGE_EMULATOR_HOST"] = $"http://127.0.0.1:{servers.Gcs.Port}/" };
        await AssertRoundTripAsync(CloudServers.Factory(env).Open($"gs://{CloudServers.BucketName}/{StoreTarget.NewPrefix()}"));
    }

    [Fact]
    public void Azure_without_credentials_says_which_variables_to_set()
    {
        var error = Assert.Throws<StorageException>(() => CloudServers.Factory(new Dictionary<string, string>()).Open("az://lake"));
        Assert.Contains("AZURE_STORAGE_CONNECTION_STRING", error.Message);
        Assert.Contains("AZURE_STORAGE_ACCOUNT_NAME", error.Message);
    }

    [Fact]
    public async Task A_missing_bucket_is_named_in_the_error_for_every_provider()
    {
        var stores = new (IObjectStore Store, string Expected)[]
        {
            (CloudServers.Factory(CloudServers.S3Environment(servers.S3.Port)).Open("s3://no-such-bucket/p"), "bucket 'no-such-bucket' does not exist"),
            (CloudServers.Factory(servers.AzureEnvironment()).Open("az://no-such-container/p"), "container 'no-such-container' does not exist"),
            (CloudServers.Factory(CloudServers.GcsEnvironment(servers.Gcs.Port)).Open("gs://no-such-bucket/p"), "bucket 'no-such-bucket' does not exist"),
        };
        foreach (var (store, expected) in stores)
        {
            await using (store)
            {
                var put = await Assert.ThrowsAsync<StorageException>(() => store.PutAsync("m.json", "{}"u8.ToArray(), WriteCondition.None, Soon));
                Assert.Contains(expected, put.Message);
                var list = await Assert.ThrowsAsync<StorageException>(async () => await store.ListAsync("", Soon).ToListAsync());
                Assert.Contains(expected, list.Message);
            }
        }
    }

    [Fact]
    public async Task S3_an_unknown_access_key_id_is_reported_as_refused_credentials_naming_the_variables_not_a_permission_or_the_secret()
    {
        const string wrongSecret = "not-the-S3RVER-secret-7d1c";
        var env = CloudServers.S3Environment(servers.S3.Port);
        // s3rver does not check SigV4 signatures, only that the access key id is one of its accounts.
        env["AWS_ACCESS_KEY_ID"] = "AKIAUNKNOWNKEY000000";
        env["AWS_SECRET_ACCESS_KEY"] = wrongSecret;
        await using var store = CloudServers.Factory(env).Open($"s3://{CloudServers.BucketName}/p");
        var put = await Assert.ThrowsAsync<StorageException>(() => store.PutAsync("m.json", "{}"u8.ToArray(), WriteCondition.None, Soon));
        Assert.Equal("the S3 credentials were refused (wrong key or secret): cannot put s3://lake/p/m.json: the access key id is unknown to this endpoint (InvalidAccessKeyId); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY", put.Message);
        Assert.True(put.CredentialsRefused);
        var list = await Assert.ThrowsAsync<StorageException>(async () => await store.ListAsync("", Soon).ToListAsync());
        Assert.StartsWith("the S3 credentials were refused (wrong key or secret): cannot list s3://lake/p (prefix '')", list.Message);
        var delete = await Assert.ThrowsAsync<StorageException>(() => store.DeleteAsync("m.json", Soon));
        Assert.StartsWith("the S3 credentials were refused (wrong key or secret): cannot delete s3://lake/p/m.json", delete.Message);
        Assert.DoesNotContain("needs", put.Message + list.Message + delete.Message); // no s3:PutObject hunt
        Assert.DoesNotContain(wrongSecret, put.Message + list.Message + delete.Message);
    }

    [Fact]
    public async Task Azure_a_wrong_account_key_is_reported_as_refused_credentials_naming_the_variable_not_a_permission_or_the_key()
    {
        var wrongKey = Convert.ToBase64String("definitely-not-the-azurite-key-0123456789abcdef"u8.ToArray());
        foreach (var (env, source) in new[]
        {
            (new Dictionary<string, string> { ["AZURE_STORAGE_CONNECTION_STRING"] = servers.Azure.ConnectionString().Replace(AzuriteServer.AccountKey, wrongKey, StringComparison.Ordinal) },
                "the AccountKey or SharedAccessSignature in AZURE_STORAGE_CONNECTION_STRING"),
            (new Dictionary<string, string> { ["AZURE_STORAGE_ACCOUNT_NAME"] = AzuriteServer.AccountName, ["AZURE_STORAGE_ACCOUNT_KEY"] = wrongKey },
                $"AZURE_STORAGE_ACCOUNT_KEY (for account '{AzuriteServer.AccountName}')"),
        })
        {
            var options = new Dictionary<string, string> { ["endpoint_url"] = servers.Azure.BlobEndpoint };
            await using var store = CloudServers.Factory(env).Open($"az://{CloudServers.BucketName}/p", options);
            var put = await Assert.ThrowsAsync<StorageException>(() => store.PutAsync("m.json", "{}"u8.ToArray(), WriteCondition.None, Soon));
            Assert.StartsWith("the Azure Blob credentials were refused (wrong key or secret): cannot put az://lake/p/m.json: the key or signature does not match the account (", put.Message);
            Assert.EndsWith("); check " + source, put.Message);
            Assert.True(put.CredentialsRefused);
            var get = await Assert.ThrowsAsync<StorageException>(() => store.GetAsync("m.json", Soon));
            Assert.StartsWith("the Azure Blob credentials were refused (wrong key or secret): cannot get az://lake/p/m.json", get.Message);
            var list = await Assert.ThrowsAsync<StorageException>(async () => await store.ListAsync("", Soon).ToListAsync());
            Assert.StartsWith("the Azure Blob credentials were refused (wrong key or secret): cannot list", list.Message);
            Assert.DoesNotContain("blobs/", put.Message + get.Message + list.Message);
            Assert.DoesNotContain(wrongKey, put.Message + get.Message + list.Message);
        }
    }

    [Fact]
    public async Task Gcs_a_refused_service_account_key_is_reported_as_refused_credentials_naming_the_key_file_not_a_permission_or_the_key()
    {
        // The stand-in answers 401 Invalid Credentials to every JWT this account signs, as GCS does for a deleted key.
        const string email = "deleted-key@project.iam.gserviceaccount.com";
        servers.Gcs.RefusedIssuers[email] = 0;
        using var key = RSA.Create(2048);
        var keyFile = Path.Combine(Path.GetTempPath(), $"gcs-key-{Guid.NewGuid():N}.json");
        TestFiles.GcsServiceAccountKey(keyFile, key, email);
        try
        {
            var factory = CloudServers.Factory(new Dictionary<string, string> { ["GOOGLE_APPLICATION_CREDENTIALS"] = keyFile });
            var options = new Dictionary<string, string> { ["endpoint_url"] = $"http://127.0.0.1:{servers.Gcs.Port}" };
            var check = $"; check GOOGLE_APPLICATION_CREDENTIALS (the service-account key file '{keyFile}'; its key or account may be deleted or disabled)";
            var secret = key.ExportPkcs8PrivateKeyPem().Split('\n')[1]; // a line of the private key
            var bucket = $"gs://{CloudServers.BucketName}/{StoreTarget.NewPrefix()}";

            await using (var store = factory.Open(bucket, options))
            {
                var put = await Assert.ThrowsAsync<StorageException>(() => store.PutAsync("m.json", "{}"u8.ToArray(), WriteCondition.None, Soon));
                Assert.Equal($"the GCS credentials were refused (wrong key or secret): cannot put {bucket}/m.json: the server does not accept the credential (401 Invalid Credentials){check}", put.Message);
                Assert.True(put.CredentialsRefused);
                var get = await Assert.ThrowsAsync<StorageException>(() => store.GetAsync("m.json", Soon));
                Assert.StartsWith($"the GCS credentials were refused (wrong key or secret): cannot get {bucket}/m.json", get.Message);
                var list = await Assert.ThrowsAsync<StorageException>(async () => await store.ListAsync("", Soon).ToListAsync());
                Assert.StartsWith($"the GCS credentials were refused (wrong key or secret): cannot list {bucket} (prefix '')", list.Message);
                var delete = await Assert.ThrowsAsync<StorageException>(() => store.DeleteAsync("m.json", Soon));
                Assert.StartsWith($"the GCS credentials were refused (wrong key or secret): cannot delete {bucket}/m.json", delete.Message);
                Assert.DoesNotContain("storage.objects", put.Message + get.Message + list.Message + delete.Message); // no IAM hunt
                Assert.DoesNotContain(secret, put.Message + get.Message + list.Message + delete.Message);
            }

            // validate's bucket check says the same, without a permission to grant.
            var probe = await BucketProbe.RunAsync(factory, bucket, options, Soon);
            Assert.False(probe.Ok);
            Assert.StartsWith("cannot write: the GCS credentials were refused (wrong key or secret): cannot put ", probe.Detail);
            Assert.EndsWith(check, probe.Detail);
            Assert.DoesNotContain("denied", probe.Detail);

            // A run stops at its first call, taking the pipeline lock (a failure before the run log exists throws).
            var pipeline = CloudLake.Pipeline("orders", bucket, count: 3);
            pipeline = pipeline with { Destination = pipeline.Destination with { StorageOptions = options } };
            var run = await Assert.ThrowsAsync<StorageException>(() => new PipelineRunner(factory, new ShiftedTime(CloudLake.Now)).RunAsync(pipeline, new RunOptions(), Soon));
            Assert.Equal($"the GCS credentials were refused (wrong key or secret): cannot put {bucket}/.dataspoc/locks/orders.lock: the server does not accept the credential (401 Invalid Credentials){check}", run.Message);
            Assert.True(run.CredentialsRefused);
        }
        finally
        {
            TestFiles.Delete(keyFile);
        }
    }

    [Fact]
    public void Gcs_a_key_file_that_cannot_be_read_is_named_when_the_bucket_is_opened()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"gcs-key-{Guid.NewGuid():N}.json");
        var garbage = Path.Combine(Path.GetTempPath(), $"gcs-key-{Guid.NewGuid():N}.json");
        File.WriteAllText(garbage, "not a key");
        try
        {
            foreach (var keyFile in new[] { missing, garbage })
            {
                var factory = CloudServers.Factory(new Dictionary<string, string> { ["GOOGLE_APPLICATION_CREDENTIALS"] = keyFile });
                var error = Assert.Throws<StorageException>(() => factory.Open($"gs://{CloudServers.BucketName}/p"));
                Assert.StartsWith($"GOOGLE_APPLICATION_CREDENTIALS names '{keyFile}', which is not a readable Google credential file: ", error.Message);
            }
        }
        finally
        {
            TestFiles.Delete(garbage);
        }
    }

    [Fact]
    public async Task Gcs_access_denied_names_the_operation_and_the_iam_permission()
    {
        servers.Gcs.CreateBucket("locked-down");
        servers.Gcs.DeniedBuckets["locked-down"] = 0;
        await using var store = CloudServers.Factory(CloudServers.GcsEnvironment(servers.Gcs.Port)).Open("gs://locked-down/p");
        var put = await Assert.ThrowsAsync<StorageException>(() => store.PutAsync("m.json", "{}"u8.ToArray(), WriteCondition.None, Soon));
        Assert.Contains("access denied: cannot put gs://locked-down/p/m.json", put.Message);
        Assert.Contains("storage.objects.create", put.Message);
        Assert.Contains("storage.objects.get", (await Assert.ThrowsAsync<StorageException>(() => store.GetAsync("m.json", Soon))).Message);
        Assert.Contains("storage.objects.list", (await Assert.ThrowsAsync<StorageException>(async () => await store.ListAsync("", Soon).ToListAsync())).Message);
        Assert.Contains("storage.objects.delete", (await Assert.ThrowsAsync<StorageException>(() => store.DeleteAsync("m.json", Soon))).Message);
    }
}

using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Cli.Tests.Support;
using DataSpoc.Pipe.Cloud.Tests;
using DataSpoc.Pipe.Cloud.Tests.Runs;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// The CLI process against s3://, gs:// and az:// buckets on the servers the cloud tests start (s3rver, the GCS
/// stand-in, Azurite). Under <c>./test.sh</c> that process is the native binary, where trimming could drop what a
/// cloud SDK reaches by reflection; so every call a run makes (small and multipart uploads, state, manifest, logs,
/// lists, conditional writes) goes through it here, and what lands is read back with DuckDB.
/// </summary>
public sealed class CloudBucketTests(CloudServers servers) : IClassFixture<CloudServers>, IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    public static TheoryData<string> Clouds => new() { "s3", "gs", "az" };

    [Theory]
    [MemberData(nameof(Clouds))]
    public async Task Runs_into_the_bucket_land_parquet_that_reads_back_equal_and_every_json_view_reads_the_bucket(string cloud)
    {
        var (target, environment) = cloud switch
        {
            "s3" => ((StoreTarget)new S3Target(servers), CloudServers.S3Environment(servers.S3.Port)),
            "gs" => (new GcsTarget(servers), CloudServers.GcsEnvironment(servers.Gcs.Port)),
            _ => (new AzureTarget(servers), servers.AzureEnvironment()),
        };
        foreach (var (name, value) in environment) _home.Set(name, value);
        // s3rver ignores conditional writes, so a run there is refused unless single-writer mode is accepted.
        _storageOptions = cloud == "s3" ? "storage_options: {conditional_writes: false}" : "";
        await using var lake = new CloudLake(target);

        WritePipeline(lake.Bucket, count: 5);
        // (The test tap needs --config, so only the bucket check is of interest here.)
        var validate = Json.Parse(CliProcess.Run(_home, "validate", "orders", "-o", "json")).AsArray().Single()!;
        var bucketCheck = validate["checks"]!.AsArray().Single(c => c.Str("check") == "bucket")!;
        Assert.True(bucketCheck.Bool("ok"), bucketCheck.ToJsonString());
        Assert.Equal($"{lake.Bucket}: write, read, list and delete work", bucketCheck.Str("detail"));

        var first = Json.Parse(CliProcess.Run(_home, "run", "orders", "-o", "json"));
        Assert.True(first.Str("status") == "success", first.ToJsonString());
        Assert.Equal(CloudLake.ExpectedOrders(1, 5), await lake.OrdersAsync([Assert.Single(await ParquetKeysAsync(lake, "raw/shop/orders/"))]));

        // Incremental: the tap gets the state the first run saved in the bucket and sends only ids 6..8.
        WritePipeline(lake.Bucket, count: 8);
        var second = Json.Parse(CliProcess.Run(_home, "run", "orders", "-o", "json"));
        Assert.True(second.Str("status") == "success", second.ToJsonString());
        Assert.Equal(3, second.Long("total_records"));
        var orders = await ParquetKeysAsync(lake, "raw/shop/orders/");
        Assert.Equal(2, orders.Count);
        Assert.Equal(CloudLake.ExpectedOrders(1, 8), await lake.OrdersAsync(orders));

        // A file above 16 MB (uncompressed hex tokens) goes up in parts: multipart, resumable session, staged blocks.
        var csv = Path.Combine(_home.Root, "tokens.csv");
        await File.WriteAllLinesAsync(csv, ["id,token", .. Enumerable.Range(1, BigRows).Select(i => $"{i},{Token(i)}")]);
        _home.WritePipeline("tokens", $$"""
            source:
              tap: csv
              config: {path: "{{csv}}"}
            destination:
              bucket: {{lake.Bucket}}
              compression: none
              {{_storageOptions}}
            """);
        var big = Json.Parse(CliProcess.Run(_home, "run", "tokens", "-o", "json"));
        Assert.True(big.Str("status") == "success", big.ToJsonString());
        var tokens = Assert.Single(await ParquetKeysAsync(lake, "raw/csv/tokens/"));
        Assert.True(await SizeAsync(lake, tokens) > 16L << 20, "the tokens file should need a multipart upload");
        Assert.Equal($"{BigRows}|{BigRows}|1|{BigRows}", await lake.IdSummaryAsync([tokens]));

        var status = Json.Parse(CliProcess.Run(_home, "status", "-o", "json")).AsArray().Single(r => r.Str("pipeline") == "orders")!;
        Assert.Equal(("success", second.Str("run_id"), 3L), (status.Str("status"), status.Str("run_id"), status.Long("records")));
        var runs = Json.Parse(CliProcess.Run(_home, "logs", "orders", "--list", "-o", "json")).AsArray();
        Assert.Equal([second.Str("run_id"), first.Str("run_id")], runs.Select(r => r.Str("run_id")));
        Assert.Equal(first.Str("run_id"), Json.Parse(CliProcess.Run(_home, "logs", "orders", "--run", first.Str("run_id"))).Str("run_id"));
        // Expiring every run log but the latest: the first run's log leaves the bucket, the latest stays for status.
        var expiry = Json.Parse(CliProcess.Run(_home, "logs", "orders", "--expire-older-than", "1s", "-o", "json"));
        Assert.Equal(("orders", 1L, 1L), (expiry.Str("pipeline"), expiry.Long("deleted"), expiry.Long("kept")));
        Assert.Equal([second.Str("run_id")], Json.Parse(CliProcess.Run(_home, "logs", "orders", "--list", "-o", "json")).AsArray().Select(r => r.Str("run_id")));

        var manifest = Json.Parse(CliProcess.Run(_home, "manifest", lake.Bucket, "-o", "json"));
        var table = manifest["tables"]!["shop/orders"]!;
        Assert.Equal((8L, 2L), (table.Long("row_count"), table["stats"].Long("files")));
        Assert.Equal(["id", "customer", "amount", "created_at"], table["columns"]!.AsArray().Select(c => c.Str("name")));
        Assert.Equal(BigRows, manifest["tables"]!["csv/tokens"].Long("row_count"));
    }

    [Fact]
    public async Task A_gcs_service_account_key_file_signs_every_request_the_cli_makes()
    {
        using var key = RSA.Create(2048);
        const string email = "pipe-test@project.iam.gserviceaccount.com";
        var keyFile = Path.Combine(_home.Root, "service-account.json");
        TestFiles.GcsServiceAccountKey(keyFile, key, email);
        _home.Set("GOOGLE_APPLICATION_CREDENTIALS", keyFile);
        await using var lake = new CloudLake(new GcsTarget(servers));
        _home.WritePipeline("orders", $$"""
            source:
              tap: {{CloudLake.Tap}}
              name: shop
              config: {count: 5}
            destination:
              bucket: {{lake.Bucket}}
              storage_options: {endpoint_url: "http://127.0.0.1:{{servers.Gcs.Port}}"}
            """);
        servers.Gcs.Authorizations.Clear();

        var run = Json.Parse(CliProcess.Run(_home, "run", "orders", "-o", "json"));
        Assert.True(run.Str("status") == "success", run.ToJsonString());
        Assert.Equal(CloudLake.ExpectedOrders(1, 5), await lake.OrdersAsync([Assert.Single(await ParquetKeysAsync(lake, "raw/shop/orders/"))]));

        // Each call carries a JWT the key file's key signed, issued by its client_email (no token endpoint involved).
        Assert.NotEmpty(servers.Gcs.Authorizations);
        Assert.All(servers.Gcs.Authorizations, authorization =>
        {
            Assert.StartsWith("Bearer ", authorization);
            var parts = authorization["Bearer ".Length..].Split('.');
            Assert.True(key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64Url.DecodeFromChars(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
                "the JWT is not signed by the service account's key");
            Assert.Equal(email, JsonNode.Parse(Base64Url.DecodeFromChars(parts[1])).Str("iss"));
        });
    }

    private const int BigRows = 300_000;

    /// <summary>64 hex digits that differ row by row, so the file stays large without compression's help.</summary>
    private static string Token(int i) => Convert.ToHexStringLower(SHA256.HashData(BitConverter.GetBytes(i)));

    private string _storageOptions = "";

    private void WritePipeline(string bucket, int count) =>
        _home.WritePipeline("orders", $$"""
            source:
              tap: {{CloudLake.Tap}}
              name: shop
              config: {count: {{count}}}
            destination:
              bucket: {{bucket}}
              {{_storageOptions}}
            incremental:
              enabled: true
            """);

    private static async Task<List<string>> ParquetKeysAsync(CloudLake lake, string folder) =>
        (await lake.KeysAsync()).Where(k => k.StartsWith(folder, StringComparison.Ordinal) && k.EndsWith(".parquet", StringComparison.Ordinal)).ToList();

    private static async Task<long> SizeAsync(CloudLake lake, string key) =>
        (await lake.Store.ListAsync(key, CancellationToken.None).SingleAsync(o => o.Key == key)).Size;
}

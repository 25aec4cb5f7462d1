using System.Net;
using Amazon.S3;
using Amazon.S3.Model;
using DataSpoc.Pipe.Cloud.Tests.Runs;
using DataSpoc.Pipe.Cloud.Tests.Servers;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Cloud.Tests;

/// <summary>
/// Conditional writes tested for real on S3: Ceph's RADOS Gateway enforces them (s3rver ignores them). The shared
/// contracts run here as on the other stores, plus RGW's own quirks. Skipped only where Ceph is not installed.
/// </summary>
[Collection(CephRgwCollection.Name)]
public sealed class CephRgwTests(CephRgwServer server, ITestOutputHelper output)
{
    private readonly StoreTarget _target = new CephTarget(server);

    private static CancellationToken Timeout(int seconds = 120) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    private sealed class Conditional(StoreTarget target) : ConditionalWriteContract { protected override StoreTarget Target => target; }
    private sealed class Runs(StoreTarget target) : PipelineRunContract { protected override StoreTarget Target => target; }
    private sealed class Concurrency(StoreTarget target) : PipelineConcurrencyContract { protected override StoreTarget Target => target; }
    private sealed class SharedTable(StoreTarget target) : SharedTableContract { protected override StoreTarget Target => target; }
    private sealed class Locks(StoreTarget target) : LockContract { protected override StoreTarget Target => target; }
    private sealed class Ranges(StoreTarget target) : RangedReadContract
    {
        protected override StoreTarget Target => target;
        public Task OnlyTheRange() => Only_the_range_comes_from_the_server();
    }
    private sealed class Tables(StoreTarget target) : TableFormatRunContract
    {
        private readonly string _prefix = StoreTarget.NewPrefix();
        protected override StoreTarget Target => target;
        protected override string Bucket => target.Uri(_prefix);
        protected override Dictionary<string, string> ReaderEnvironment => throw new NotSupportedException("no Iceberg reader is pointed at Ceph RGW");
    }

    [CephFact]
    public void The_gateway_starts_within_a_minute()
    {
        output.WriteLine($"Ceph RGW started in {server.StartSeconds:0.0} s");
        Assert.InRange(server.StartSeconds, 0.1, 60);
    }

    [CephFact]
    public async Task The_gateway_compares_if_match_with_the_unquoted_etag_so_the_quirk_being_bridged_is_real()
    {
        using var client = server.Client();
        var key = StoreTarget.NewPrefix() + "/quirk.json";
        var put = await client.PutObjectAsync(new PutObjectRequest { BucketName = CephRgwServer.BucketName, Key = key, ContentBody = "v1", UseChunkEncoding = false });
        var quoted = "\"" + put.ETag.Trim('"') + "\"";
        var refused = await Assert.ThrowsAsync<AmazonS3Exception>(() => client.PutObjectAsync(new PutObjectRequest
            { BucketName = CephRgwServer.BucketName, Key = key, ContentBody = "v2", UseChunkEncoding = false, IfMatch = quoted }));
        Assert.Equal(HttpStatusCode.PreconditionFailed, refused.StatusCode);
        // Our store sends what the server compares: the write with the current version goes through.
        await using var store = _target.Open(key[..key.IndexOf('/')]);
        var current = (await store.GetAsync("quirk.json", Timeout()))!;
        Assert.True(await store.PutAsync("quirk.json", "v3"u8.ToArray(), WriteCondition.IfVersion(current.Version), Timeout()));
        Assert.False(await store.PutAsync("quirk.json", "v4"u8.ToArray(), WriteCondition.IfVersion(current.Version), Timeout()));
        Assert.Equal("v3"u8.ToArray(), (await store.GetAsync("quirk.json", Timeout()))!.Content.ToArray());
    }

    [CephFact] public Task Create_if_absent_succeeds_once_and_refuses_the_second_writer() => new Conditional(_target).Create_if_absent_succeeds_once_and_refuses_the_second_writer();
    [CephFact] public Task A_write_with_a_stale_version_is_refused_and_with_the_current_version_succeeds() => new Conditional(_target).A_write_with_a_stale_version_is_refused_and_with_the_current_version_succeeds();
    [CephFact] public Task A_versioned_write_to_a_missing_object_is_refused() => new Conditional(_target).A_versioned_write_to_a_missing_object_is_refused();
    [CephFact] public Task Eight_concurrent_read_modify_write_loops_lose_no_update() => new Conditional(_target).Eight_concurrent_read_modify_write_loops_lose_no_update();
    [CephFact] public Task A_data_file_is_created_only_if_absent_and_a_second_writer_of_its_key_is_refused() => new Conditional(_target).A_data_file_is_created_only_if_absent_and_a_second_writer_of_its_key_is_refused();
    [CephFact] public Task A_file_put_if_absent_lands_its_exact_bytes_and_a_second_is_refused_leaving_the_first() => new Conditional(_target).A_file_put_if_absent_lands_its_exact_bytes_and_a_second_is_refused_leaving_the_first();
    [CephFact] public Task Of_eight_writers_putting_one_file_if_absent_at_once_exactly_one_wins() => new Conditional(_target).Of_eight_writers_putting_one_file_if_absent_at_once_exactly_one_wins();
    [CephFact] public Task A_Delta_table_written_twice_reads_back_every_row_from_its_log() => new Tables(_target).A_Delta_table_written_twice_reads_back_every_row_from_its_log();

    [CephFact] public Task A_run_lands_the_contract_layout_and_parquet_that_reads_back_equal_to_the_input() => new Runs(_target).A_run_lands_the_contract_layout_and_parquet_that_reads_back_equal_to_the_input();
    [CephFact] public Task Incremental_state_round_trips_through_the_bucket_so_the_next_run_adds_only_new_rows() => new Runs(_target).Incremental_state_round_trips_through_the_bucket_so_the_next_run_adds_only_new_rows();
    [CephFact] public Task A_store_that_stalls_mid_upload_loses_the_lock_at_its_lease_and_the_run_fails_with_nothing_committed() => new Runs(_target).A_store_that_stalls_mid_upload_loses_the_lock_at_its_lease_and_the_run_fails_with_nothing_committed();

    [CephFact] public Task Eight_pipelines_finishing_at_once_leave_eight_manifest_entries() => new Concurrency(_target).Eight_pipelines_finishing_at_once_leave_eight_manifest_entries();
    [CephFact] public Task A_second_run_of_a_running_pipeline_is_refused_with_a_clear_message() => new Concurrency(_target).A_second_run_of_a_running_pipeline_is_refused_with_a_clear_message();
    [CephFact] public Task A_state_write_landing_after_another_run_took_the_lock_over_and_saved_a_later_state_is_refused() => new Concurrency(_target).A_state_write_landing_after_another_run_took_the_lock_over_and_saved_a_later_state_is_refused();
    [CephFact] public Task Two_pipelines_writing_one_table_at_once_keep_every_row_and_the_manifest_counts_them() => new SharedTable(_target).Two_pipelines_writing_one_table_at_once_keep_every_row_and_the_manifest_counts_them();

    [CephFact] public Task A_range_reads_exactly_those_bytes_of_the_object_cut_at_its_end() => new Ranges(_target).A_range_reads_exactly_those_bytes_of_the_object_cut_at_its_end();
    [CephFact] public Task A_range_of_a_missing_key_throws_file_not_found() => new Ranges(_target).A_range_of_a_missing_key_throws_file_not_found();
    [CephFact] public Task A_footer_read_from_the_tail_gives_the_metadata_the_whole_file_gives() => new Ranges(_target).A_footer_read_from_the_tail_gives_the_metadata_the_whole_file_gives();
    [CephFact] public Task A_footer_read_of_an_object_that_is_not_parquet_fails_naming_it() => new Ranges(_target).A_footer_read_of_an_object_that_is_not_parquet_fails_naming_it();
    [CephFact] public Task Only_the_range_comes_from_the_gateway() => new Ranges(_target).OnlyTheRange();

    [CephFact] public Task A_lock_of_a_dead_process_on_this_host_is_taken_over_at_once() => new Locks(_target).A_lock_of_a_dead_process_on_this_host_is_taken_over_at_once();
    [CephFact] public Task A_lock_overwritten_mid_run_stops_the_run_before_anything_is_committed() => new Locks(_target).A_lock_overwritten_mid_run_stops_the_run_before_anything_is_committed();

    [CephFact]
    public async Task A_run_with_a_wrong_secret_or_into_a_missing_bucket_reports_the_servers_answer_to_its_first_put()
    {
        // The run's first request is the conditional-write probe's PUT, then its clean-up DELETE, which RGW answers 405
        // when the signature is wrong: that answer must not replace the PUT's. A bucket no store of this test process
        // has probed yet (the probe runs once per endpoint and bucket).
        var fresh = "probe-" + Guid.NewGuid().ToString("N")[..10];
        using (var client = server.Client()) await client.PutBucketAsync(fresh);
        const string wrongSecret = "WrongSecretValue987xyz";
        var wrong = new Dictionary<string, string>(server.Environment()) { ["AWS_SECRET_ACCESS_KEY"] = wrongSecret };
        var denied = await Assert.ThrowsAsync<StorageException>(() => RunAsync(wrong, $"s3://{fresh}/p"));
        Assert.StartsWith($"the S3 credentials were refused (wrong key or secret): cannot put s3://{fresh}/p/.dataspoc/probe/conditional-write-", denied.Message);
        Assert.EndsWith(": the secret key does not match the access key id (SignatureDoesNotMatch); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY", denied.Message);
        Assert.DoesNotContain(wrongSecret, denied.Message);

        var missing = "no-such-bucket-" + Guid.NewGuid().ToString("N")[..10];
        var absent = await Assert.ThrowsAsync<StorageException>(() => RunAsync(server.Environment(), $"s3://{missing}/p"));
        Assert.StartsWith($"bucket '{missing}' does not exist (s3, put s3://{missing}/p/.dataspoc/probe/conditional-write-", absent.Message);
        Assert.EndsWith("); create it or fix destination.bucket", absent.Message);

        static Task<Pipe.Runs.RunResult> RunAsync(Dictionary<string, string> environment, string bucket) =>
            new Pipe.Runs.PipelineRunner(CloudServers.Factory(environment), new ShiftedTime(CloudLake.Now))
                .RunAsync(CloudLake.Pipeline("orders", bucket, count: 3), new Pipe.Runs.RunOptions(), Timeout());
    }

    [CephFact]
    public async Task A_file_put_if_absent_whose_answer_is_lost_is_recognised_as_our_own_write()
    {
        // The SDK retries the PUT whose answer the proxy cut; RGW refuses the retry (412) because the first one landed.
        var prefix = StoreTarget.NewPrefix();
        const string key = "raw/shop/orders/_delta_log/00000000000000000000.json";
        await using var proxy = new TcpFaultProxy(_target.ServerPort);
        await using var store = _target.Open(prefix, proxy.Port);
        var (path, sha) = TestFiles.Random(1 << 20, seed: 23);
        try
        {
            await store.PutAsync("warm-up.json", "{}"u8.ToArray(), WriteCondition.IfAbsent, Timeout()); // the probe, before the cut
            proxy.LoseResponseTo("PUT", "/_delta_log/");
            Assert.True(await store.PutFileIfAbsentAsync(key, path, Timeout()));
            Assert.Single(proxy.LostResponses);
            Assert.Equal(sha, await TestFiles.Sha256Async(await store.OpenReadAsync(key, Timeout())));
        }
        finally { TestFiles.Delete(path); }
    }

    [CephFact]
    public async Task Eight_runs_three_rounds_each_land_exact_manifests()
    {
        await using var lake = new CloudLake(_target);
        for (var round = 1; round <= 3; round++)
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => lake.RunAsync(lake.Pipeline($"orders-{i}", count: round * 2, source: $"shop{i}"))));
            Assert.All(results, r => Assert.True(r.Succeeded, r.Log.Error));
        }
        var manifest = await lake.ManifestAsync();
        Assert.Equal(8, manifest.Tables.Count);
        Assert.All(manifest.Tables.Values, t => Assert.Equal((6L, 3L), (t.RowCount, t.Stats.Extractions)));
        Assert.DoesNotContain(await lake.KeysAsync(), k => k.StartsWith(".dataspoc/journal/", StringComparison.Ordinal) || k.StartsWith(".dataspoc/locks/", StringComparison.Ordinal));
    }
    [CephFact]
    public async Task Rolling_back_a_commit_killed_mid_upload_aborts_the_upload_it_left_open()
    {
        // A run killed during a multipart upload cannot abort it: its parts stay stored (and billed) unless the next
        // run's rollback of the journalled commit aborts it. The state a kill leaves, built by hand: the journal naming
        // the file, an upload of that key begun with one part, and another upload beside it that is not this commit's.
        var prefix = StoreTarget.NewPrefix();
        const string key = "raw/shop/orders/orders_0000_deadbeef.parquet";
        using var client = server.Client();
        var started = new List<string>();
        foreach (var name in new[] { $"{prefix}/{key}", $"{prefix}/{key}.other" })
        {
            var upload = await client.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = CephRgwServer.BucketName, Key = name }, Timeout());
            await client.UploadPartAsync(new UploadPartRequest
            {
                BucketName = CephRgwServer.BucketName, Key = name, UploadId = upload.UploadId, PartNumber = 1,
                InputStream = new MemoryStream(new byte[5 << 20]), UseChunkEncoding = false,
            }, Timeout());
            started.Add(upload.UploadId);
        }
        await using var store = _target.Open(prefix);
        var plan = new CommitPlan { RunId = "deadbeef", Pipeline = "p", Files = { new PlannedFile("/nowhere/spooled.parquet.part", key) } };
        await store.PutAsync(LakeCommitter.JournalKey("p"), LakeJson.Serialize(plan), WriteCondition.None, Timeout());

        var notice = (await new LakeCommitter(store, TimeProvider.System).RecoverAsync("p", Timeout()))?.Notice;

        Assert.StartsWith("rolled back the interrupted commit of run deadbeef", notice);
        var open = await client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = CephRgwServer.BucketName, Prefix = prefix + "/" }, Timeout());
        Assert.Equal([$"{prefix}/{key}.other"], (open.MultipartUploads ?? []).Select(u => u.Key));
        await client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = CephRgwServer.BucketName, Key = $"{prefix}/{key}.other", UploadId = started[1] }, Timeout());
    }
}

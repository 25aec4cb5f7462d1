using DataSpoc.Pipe.Cloud.Tests.Runs;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cloud.Tests;

/// <summary>
/// An S3 server that ignores conditional writes (s3rver, like some older S3-compatible servers) is found by the
/// probe and refused, unless the pipeline accepts single-writer mode, which every run log then states.
/// </summary>
[Collection(S3rverCollection.Name)]
public sealed class S3ConditionalWriteProbeTests(CloudServers servers)
{
    private sealed class TrustingS3Target(CloudServers servers) : StoreTarget
    {
        private readonly S3Target _s3 = new(servers);
        public override string Name => "s3:// (s3rver, conditional writes assumed)";
        public override int ServerPort => _s3.ServerPort;
        public override string Uri(string prefix) => _s3.Uri(prefix);
        public override ObjectStoreFactory Factory(int? port = null) => _s3.Factory(port);
    }

    [Fact]
    public async Task A_server_that_ignores_if_none_match_is_refused_with_a_clear_error_before_anything_is_written()
    {
        await using var lake = new CloudLake(new TrustingS3Target(servers));
        var refused = await Assert.ThrowsAsync<StorageException>(() => lake.RunAsync(lake.Pipeline("orders", count: 3)));
        Assert.Equal(
            $"{lake.Bucket}: the S3 server does not enforce conditional writes (a second PUT with If-None-Match: * of one key was accepted), " +
            "so concurrent runs could overwrite each other's manifest entries and locks. Use a server that enforces them (AWS S3, Ceph RGW), " +
            "or set destination.storage_options.conditional_writes: false to accept single-writer mode (only one run writes to this bucket at a time)",
            refused.Message);
        // The probe cleans up after itself and nothing else was written.
        Assert.Empty(await lake.KeysAsync());
    }

    [Fact]
    public async Task Single_writer_mode_runs_and_says_so_in_every_run_log()
    {
        await using var lake = new CloudLake(new S3Target(servers));
        for (var count = 3; count <= 4; count++)
        {
            var run = await lake.RunAsync(lake.Pipeline("orders", count));
            Assert.True(run.Succeeded, run.Log.Error);
            Assert.Contains(run.Log.Notices, n => n.StartsWith("single-writer mode (storage_options.conditional_writes: false)", StringComparison.Ordinal));
        }
        Assert.Equal(4, (await lake.ManifestAsync()).Tables["shop/orders"].RowCount);
    }
}

using System.Diagnostics;
using System.Text;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Failures;

/// <summary>
/// A file:// bucket that fills up, refuses writes or does not exist: the run fails with a clear error, nothing is
/// half-written, and what earlier runs committed (data, manifest, state) stays as it was.
/// Disk full uses a 2 MB tmpfs mounted over the bucket; permission denied uses <c>chattr +i</c> (the tests run as root,
/// which chmod does not stop).
/// </summary>
public class StorageFailureTests
{
    /// <summary>Several sizes, so the disk fills at different points: a row group, a file's footer, the commit.</summary>
    [Theory]
    [InlineData(30_000)]
    [InlineData(22_000)]
    [InlineData(25_000)]
    public async Task A_full_disk_fails_the_run_saying_so_and_leaves_committed_data_state_and_no_temp_files(int records)
    {
        using var lake = new TempLake();
        Sh("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", lake.Root);
        try
        {
            await BadInputCorpusTests.LandGoodRunAsync(lake, "disk-full");
            // ~6 MB of incompressible text: more than the 2 MB file system holds, even zstd-compressed.
            var lines = new List<string> { BadInputCorpusTests.Schema };
            for (var id = 100; id < 100 + records; id++)
                lines.Add($"{{\"type\":\"RECORD\",\"stream\":\"items\",\"record\":{{\"id\":{id},\"name\":\"{RandomHex(96)}\"}}}}");
            lines.Add("""{"type":"STATE","value":{"bookmark":30099}}""");
            var big = lake.WriteSinger("big.singer", [.. lines]);

            var run = await TempLake.RunAsync(lake.Pipeline("disk-full", big));

            Assert.False(run.Succeeded);
            Assert.Contains("no space left on device", run.Log.Error, StringComparison.OrdinalIgnoreCase);
            BadInputCorpusTests.AssertGoodRunUntouched(lake, "disk-full");
            Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(lake.Root, ".dataspoc", "tmp", "disk-full")));
        }
        finally
        {
            var open = OpenFilesUnder(lake.Root);
            Sh("umount", "--lazy", lake.Root);
            Assert.True(open.Count == 0, "the run left files open: " + string.Join(", ", open));
        }
    }

    [Fact]
    public async Task A_table_folder_that_refuses_writes_fails_the_commit_naming_the_path_and_the_next_run_rolls_it_back()
    {
        using var lake = new TempLake();
        await BadInputCorpusTests.LandGoodRunAsync(lake, "denied");
        var partition = Path.GetDirectoryName(Path.Combine(lake.Root, Assert.Single(lake.ParquetKeys())))!;
        var more = lake.WriteSinger("more.singer", BadInputCorpusTests.Schema, BadInputCorpusTests.Record(4), """{"type":"STATE","value":{"bookmark":4}}""");
        var run = await WhileImmutable(partition, () => TempLake.RunAsync(lake.Pipeline("denied", more)));

        Assert.False(run.Succeeded);
        Assert.Equal("commit", run.Log.FailedStep);
        Assert.StartsWith($"permission denied writing '{partition}/items_0001_{run.Log.RunId}.parquet'", run.Log.Error);
        Assert.False(run.Log.StateCommitted);
        Assert.Equal([["1"], ["2"], ["3"]], lake.Query("select id from read_parquet('{lake}/raw/test/items/*/*.parquet') order by id"));
        Assert.Equal("""{"bookmark":3}""", lake.State("denied")!.ToJsonString());
        Assert.Equal(3, lake.Manifest().Tables["test/items"].RowCount);

        var retry = await TempLake.RunAsync(lake.Pipeline("denied", more));

        Assert.True(retry.Succeeded, retry.Log.Error);
        Assert.Contains(retry.Log.Notices, n => n.StartsWith("rolled back the interrupted commit", StringComparison.Ordinal));
        Assert.Equal([["1"], ["2"], ["3"], ["4"]], lake.Query("select id from read_parquet('{lake}/raw/test/items/*/*.parquet') order by id"));
        Assert.Equal("""{"bookmark":4}""", lake.State("denied")!.ToJsonString());
    }

    [Fact]
    public async Task A_failed_run_whose_log_cannot_be_written_still_reports_its_own_error()
    {
        using var lake = new TempLake();
        await BadInputCorpusTests.LandGoodRunAsync(lake, "no-log");
        var logs = Path.Combine(lake.Root, ".dataspoc", "logs", "no-log");
        var bad = lake.WriteSinger("bad.singer", BadInputCorpusTests.Schema, """{"type":"RECORD","stream":"items","record":{"id":"four"}}""");
        var run = await WhileImmutable(logs, () => TempLake.RunAsync(lake.Pipeline("no-log", bad)));

        Assert.False(run.Succeeded);
        Assert.Contains("line 2", run.Log.Error);
        Assert.Contains("id", run.Log.Error);
        Assert.Contains(run.Log.Notices, n => n.StartsWith("the run log could not be saved: permission denied", StringComparison.Ordinal) && n.Contains(logs, StringComparison.Ordinal));
        Assert.Single(Directory.EnumerateFiles(logs)); // the good run's log only
        BadInputCorpusTests.AssertGoodRunUntouched(lake, "no-log");
    }

    [Fact]
    public async Task A_bucket_that_refuses_writes_is_refused_before_the_run_starts_with_a_clear_storage_error()
    {
        using var lake = new TempLake();
        await BadInputCorpusTests.LandGoodRunAsync(lake, "denied-root");
        var before = Snapshot(lake);
        var e = await WhileImmutable(Path.Combine(lake.Root, ".dataspoc", "locks"),
            () => Assert.ThrowsAsync<StorageException>(() => TempLake.RunAsync(lake.Pipeline("denied-root", lake.WriteSinger("x.singer", BadInputCorpusTests.Schema)))));
        Assert.Contains("permission denied", e.Message);
        Assert.Contains(".dataspoc/locks/denied-root.lock", e.Message);
        Assert.Equal(before, Snapshot(lake));
    }

    [Fact]
    public async Task A_bucket_folder_that_cannot_exist_is_a_clear_storage_error_and_writes_nothing()
    {
        using var lake = new TempLake();
        var file = Path.Combine(lake.Root, "not-a-folder");
        File.WriteAllText(file, "a file where the bucket should be");
        var p = lake.Pipeline("no-bucket", lake.WriteSinger("x.singer", BadInputCorpusTests.Schema, BadInputCorpusTests.Record(1)))
            with { Destination = new Config.DestinationDefinition { Bucket = "file://" + file + "/lake" } };

        var e = await Assert.ThrowsAsync<StorageException>(() => TempLake.RunAsync(p));

        Assert.Contains(file + "/lake", e.Message);
        Assert.Equal(["not-a-folder"], lake.Keys());
    }

    /// <summary>Files this process still holds open below a folder (a leaked handle keeps a full disk full).</summary>
    private static List<string> OpenFilesUnder(string root)
    {
        var open = new List<string>();
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try { if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith(root + "/", StringComparison.Ordinal)) open.Add(target); }
            catch (IOException) { }
        }
        return open;
    }

    private static string RandomHex(int bytes) => Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(bytes));

    private static Dictionary<string, string> Snapshot(TempLake lake) =>
        lake.Keys().ToDictionary(k => k, k => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(lake.Root, k)))));

    /// <summary>Runs <paramref name="work"/> while <paramref name="folder"/> refuses every write (<c>chattr +i</c>; root ignores chmod).</summary>
    private static async Task<T> WhileImmutable<T>(string folder, Func<Task<T>> work)
    {
        Sh("chattr", "+i", folder);
        try
        {
            return await work();
        }
        finally
        {
            Sh("chattr", "-i", folder);
        }
    }

    private static void Sh(string command, params string[] args)
    {
        var psi = new ProcessStartInfo(command) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{command} {string.Join(' ', args)} failed ({p.ExitCode}): {err} (these tests need root and tmpfs/chattr support)");
    }
}

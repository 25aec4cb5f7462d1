using System.Collections.Concurrent;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Lake;

/// <summary>
/// How a commit lands its data files in a <c>file://</c> lake: each file flushed before its rename, and the folders they
/// land in flushed once each, after the last file landed and before the journal says "landed" (docs/failure-handling.md).
/// </summary>
public class CommitLandingTests
{
    [Fact]
    public async Task A_commit_flushes_each_folder_its_files_land_in_once_after_every_file_landed()
    {
        using var lake = new TempLake();
        string[] keys =
        [
            "raw/test/a/dt=2025-01-20/a_0000_r1.parquet",
            "raw/test/a/dt=2025-01-20/a_0001_r1.parquet",
            "raw/test/b/dt=2025-01-20/b_0000_r1.parquet",
            "raw/test/c/dt=2025-01-20/c_0000_r1.parquet",
            "raw/test/c/dt=2025-01-21/c_0000_r1.parquet",
        ];
        var spool = Directory.CreateDirectory(Path.Combine(lake.Root, ".dataspoc", "tmp", "p", "r1")).FullName;
        var plan = new CommitPlan { RunId = "r1", Pipeline = "p", StartedAt = DateTimeOffset.UtcNow };
        foreach (var (key, i) in keys.Select((k, i) => (k, i)))
        {
            var local = Path.Combine(spool, $"{i}.parquet.part");
            File.WriteAllText(local, key);
            plan.Files.Add(new PlannedFile(local, key));
        }
        var flushes = new ConcurrentQueue<(string Folder, int Landed)>();
        var store = new LocalObjectStore(BucketUri.Parse(lake.Bucket))
        {
            FlushFolder = folder => flushes.Enqueue((folder, keys.Count(k => File.Exists(Path.Combine(lake.Root, k))))),
        };

        await new LakeCommitter(store, TimeProvider.System).CommitAsync(plan, CancellationToken.None);

        var folders = flushes.Select(f => Path.GetRelativePath(lake.Root, f.Folder)).ToList();
        Assert.Equal(folders.Distinct().Order(), folders.Order()); // none twice (the source folder holds three tables)
        Assert.Superset(new HashSet<string> { "raw/test", "raw/test/a", "raw/test/a/dt=2025-01-20", "raw/test/b/dt=2025-01-20", "raw/test/c/dt=2025-01-21" },
            folders.ToHashSet());
        Assert.All(flushes, f => Assert.Equal(keys.Length, f.Landed));
    }
}

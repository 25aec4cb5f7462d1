using System.Diagnostics;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Failures;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Runs;

/// <summary>
/// The private temp folder (<c>/tmp/dataspoc-pipe-&lt;uid&gt;</c>, here under a test folder) planted by someone else
/// before the run: a symlink or a folder another user owns is refused, nothing is written through it; our own
/// folder with loose permissions is tightened to 0700.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PrivateTempRootTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "dsp-tmproot-" + Guid.NewGuid().ToString("N")[..10]);

    public PrivateTempRootTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private string Root => Path.Combine(_dir, "dataspoc-pipe-someone");

    [Fact]
    public async Task A_scratch_file_with_an_inline_tap_config_is_written_in_the_private_folder_never_in_the_shared_tmp()
    {
        // Discovery and validate hand an inline config (passwords expanded) to the tap as a file.
        var pipeline = new DataSpoc.Pipe.Config.PipelineDefinition
        {
            Name = "p",
            Source = new DataSpoc.Pipe.Config.SourceDefinition { Tap = "tap-x", InlineConfig = new System.Text.Json.Nodes.JsonObject { ["password"] = "s3cret-9f" } },
            Destination = new DataSpoc.Pipe.Config.DestinationDefinition { Bucket = "file:///tmp/lake" },
        };
        var root = PrivateTempRoot.ForCurrentUser();
        await using var config = await DataSpoc.Pipe.Sources.TapConfigFile.CreateAsync(pipeline, CancellationToken.None);
        Assert.StartsWith(root + Path.DirectorySeparatorChar, config.Path);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(root));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(config.Path));
        Assert.Contains("s3cret-9f", File.ReadAllText(config.Path));
    }

    [Fact]
    public void A_missing_folder_is_created_with_mode_0700()
    {
        Assert.Equal(Root, PrivateTempRoot.Ensure(Root));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Root));
    }

    [Fact]
    public void A_temp_folder_that_does_not_exist_is_an_error_and_is_not_created()
    {
        var missing = Path.Combine(_dir, "mistyped", "tmpdir");

        var e = Assert.Throws<StorageException>(() => PrivateTempRoot.Ensure(Path.Combine(missing, "dataspoc-pipe-someone")));

        Assert.Equal($"the private temp folder '{missing}/dataspoc-pipe-someone' could not be created: the temp folder '{missing}' does not exist " +
            "(set TMPDIR to an existing folder, or unset it for /tmp)", e.Message);
        Assert.False(Directory.Exists(Path.Combine(_dir, "mistyped")));
    }

    [Fact]
    public void A_temp_folder_that_is_a_file_is_said_to_be_no_folder_not_to_be_missing()
    {
        var file = Path.Combine(_dir, "tmpdir-file");
        File.WriteAllText(file, "x");

        var e = Assert.Throws<StorageException>(() => PrivateTempRoot.Ensure(Path.Combine(file, "dataspoc-pipe-someone")));

        Assert.Equal($"the private temp folder '{file}/dataspoc-pipe-someone' could not be created: the temp folder '{file}' is not a folder " +
            "(set TMPDIR to an existing folder, or unset it for /tmp)", e.Message);
    }

    [Fact]
    public void A_private_folder_that_cannot_be_created_is_an_error_saying_why()
    {
        // chattr +i: nothing can be created in the folder (the tests run as root, which chmod does not stop).
        Run("chattr", "+i", _dir);
        try
        {
            var e = Assert.Throws<StorageException>(() => PrivateTempRoot.Ensure(Root));
            Assert.StartsWith($"the private temp folder '{Root}' could not be created: ", e.Message);
            Assert.EndsWith(" (set TMPDIR to a folder where this user can create one, or unset it for /tmp)", e.Message);
            Assert.True(e.Message.Length > $"the private temp folder '{Root}' could not be created: ".Length + 80, e.Message);
        }
        finally
        {
            Run("chattr", "-i", _dir);
        }
    }

    [Fact]
    public void A_planted_symlink_is_refused_and_its_target_is_not_touched()
    {
        var target = Path.Combine(_dir, "attacker-readable");
        Directory.CreateDirectory(target);
        Directory.CreateSymbolicLink(Root, target);
        var e = Assert.Throws<StorageException>(() => PrivateTempRoot.Ensure(Root));
        Assert.Contains($"the private temp folder '{Root}' is a symbolic link (to '{target}')", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(target));
    }

    [Fact]
    public void A_folder_owned_by_another_user_is_refused()
    {
        Directory.CreateDirectory(Root);
        if (Environment.UserName != "root")
        {
            // Only root can give a folder away; as another user the check still runs on our own folder.
            Assert.Equal(Root, PrivateTempRoot.Ensure(Root));
            return;
        }
        Run("chown", "65534:65534", Root);
        var e = Assert.Throws<StorageException>(() => PrivateTempRoot.Ensure(Root));
        Assert.Contains("belongs to uid 65534, not to this user (uid 0)", e.Message);
    }

    [Fact]
    public void Our_folder_with_group_or_other_access_is_tightened_to_0700()
    {
        Directory.CreateDirectory(Root);
        File.SetUnixFileMode(Root, (UnixFileMode)0x1FF); // 0777
        PrivateTempRoot.Ensure(Root);
        Assert.Equal((UnixFileMode)0x1C0, File.GetUnixFileMode(Root)); // 0700
    }

    [Fact]
    public void A_file_in_its_place_is_refused()
    {
        File.WriteAllText(Root, "x");
        Assert.Contains("is not a folder", Assert.Throws<StorageException>(() => PrivateTempRoot.Ensure(Root)).Message);
    }

    /// <summary>
    /// A temp folder a run cannot use fails that run like any other failure: a failure log in the bucket (which needs no
    /// temp folder) naming the folder and the fix, so <c>status</c> and a scheduled run's monitoring see it; state is not
    /// advanced and nothing lands. The run is a child process (the kill harness) with TMPDIR set in its own environment
    /// only: /proc is a folder where nothing can be created, even by root.
    /// </summary>
    [Theory]
    [InlineData("missing")]
    [InlineData("proc")]
    [InlineData("symlink")]
    public async Task A_temp_folder_the_run_cannot_use_fails_the_run_with_a_failure_log_and_leaves_the_lake_as_it_was(string kind)
    {
        using var lake = new TempLake();
        var pipeline = "tmpdir-" + kind;
        await BadInputCorpusTests.LandGoodRunAsync(lake, pipeline);
        var tmpdir = kind switch { "missing" => Path.Combine(_dir, "no-such-tmpdir"), "proc" => "/proc", _ => _dir };
        var root = Path.Combine(tmpdir, "dataspoc-pipe-" + geteuid());
        var planted = Path.Combine(_dir, "attacker-readable");
        if (kind == "symlink")
        {
            Directory.CreateDirectory(planted);
            Directory.CreateSymbolicLink(root, planted);
        }
        var expected = kind switch
        {
            "missing" => $"the private temp folder '{root}' could not be created: the temp folder '{tmpdir}' does not exist (set TMPDIR to an existing folder, or unset it for /tmp)",
            "proc" => $"the private temp folder '{root}' could not be created: ",
            _ => $"the private temp folder '{root}' is a symbolic link (to '{planted}'); refusing to write credentials through it: remove it (someone may have planted it) or set TMPDIR",
        };
        var run = new JsonObject
        {
            ["name"] = pipeline,
            ["bucket"] = lake.Bucket,
            ["tap"] = TempLake.ReplayTap,
            ["config"] = new JsonObject { ["file"] = lake.WriteSinger("more.singer", BadInputCorpusTests.Schema, BadInputCorpusTests.Record(4), """{"type":"STATE","value":{"bookmark":4}}""") },
        };

        var failed = await HarnessProcess.RunAsync(run, env: new Dictionary<string, string> { ["TMPDIR"] = tmpdir });

        Assert.True(failed.ExitCode == 1, $"exit {failed.ExitCode} (1 is a failed run with its log): {string.Join(" | ", failed.Stdout)} {failed.Stderr}");
        var error = JsonNode.Parse(failed.Stdout.Single(l => l.StartsWith("result ", StringComparison.Ordinal))["result ".Length..])!["error"]!.GetValue<string>();
        Assert.StartsWith(expected, error);
        if (kind == "proc") Assert.EndsWith(" (set TMPDIR to a folder where this user can create one, or unset it for /tmp)", error);
        var saved = Assert.Single(lake.Logs(pipeline), l => l.Status != "success");
        Assert.Equal(("failure", "start", error, false), (saved.Status, saved.FailedStep, saved.Error, saved.StateCommitted));
        Assert.Equal(saved.RunId, lake.Logs(pipeline).MaxBy(l => l.StartedAt)!.RunId);
        BadInputCorpusTests.AssertGoodRunUntouched(lake, pipeline);
        if (kind == "symlink") Assert.Empty(Directory.EnumerateFileSystemEntries(planted));
        if (kind == "missing") Assert.False(Directory.Exists(tmpdir));
    }

    private static void Run(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true })!;
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: {p.StandardError.ReadToEnd()}");
    }
    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern uint geteuid();

    /// <summary>
    /// The folder is named by the uid, which every process has: a uid without a passwd entry (a container's
    /// <c>--user 1001</c>, an OpenShift random uid) has no user name, and every such uid got <c>dataspoc-pipe-</c>, refused
    /// to all but the first as "planted". A killed run of a build that named it by the user name left its tap config in
    /// that folder: it is still removed, and another user's folder of that name is not looked into.
    /// </summary>
    [Fact]
    public void The_folder_is_named_by_the_uid_and_a_killed_runs_folder_under_the_user_name_of_earlier_builds_is_still_removed()
    {
        Assert.Equal(Path.Combine(_dir, $"dataspoc-pipe-{geteuid()}"), PrivateTempRoot.ForCurrentUser(_dir));
        Assert.Equal($"dataspoc-pipe-{geteuid()}", Path.GetFileName(PrivateTempRoot.ForCurrentUser()));

        using var exited = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        exited.WaitForExit();
        var earlier = Path.Combine(_dir, "dataspoc-pipe-" + Environment.UserName);
        var killed = Path.Combine(earlier, "private", "p-0123456789ab", "run1");
        Directory.CreateDirectory(killed);
        File.WriteAllText(Path.Combine(killed, "config.json"), "{\"password\":\"x\"}");
        File.WriteAllText(Path.Combine(killed, PrivateTempRoot.OwnerFile), $"{Environment.MachineName}\n{exited.Id}\n");
        File.SetLastWriteTimeUtc(Path.Combine(killed, PrivateTempRoot.OwnerFile), DateTime.UtcNow - PrivateTempRoot.KilledRunGrace - TimeSpan.FromMinutes(1));

        var notices = PrivateTempRoot.RemoveKilledRunFoldersOfCurrentUser(_dir);

        Assert.Equal([$"removed the private temp folder of a killed run (p-0123456789ab/run1, process {exited.Id}): it held that run's tap config"], notices);
        Assert.False(Directory.Exists(killed));
    }

    [Fact]
    public void Only_run_folders_whose_owner_process_is_gone_are_removed_whatever_their_pipeline()
    {
        var old = DateTime.UtcNow - PrivateTempRoot.KilledRunGrace - TimeSpan.FromMinutes(1);
        using var exited = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        exited.WaitForExit();
        string RunFolder(string pipeline, string run, string? owner, DateTime? marked = null)
        {
            var folder = Path.Combine(Root, "private", pipeline + "-0123456789ab", run);
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "config.json"), "{}");
            if (owner is null) return folder;
            File.WriteAllText(Path.Combine(folder, PrivateTempRoot.OwnerFile), owner);
            File.SetLastWriteTimeUtc(Path.Combine(folder, PrivateTempRoot.OwnerFile), marked ?? old);
            return folder;
        }
        var here = Environment.MachineName;
        var killed = RunFolder("deleted", "run1", $"{here}\n{exited.Id}\n");
        var live = RunFolder("deleted", "run2", $"{here}\n{Environment.ProcessId}\n");
        var unmarked = RunFolder("renamed", "run3", null);
        var justKilled = RunFolder("renamed", "run4", $"{here}\n{exited.Id}\n", DateTime.UtcNow);
        var otherHost = RunFolder("renamed", "run5", $"{here}-elsewhere\n{exited.Id}\n");

        var notices = PrivateTempRoot.RemoveKilledRunFolders(Root);

        Assert.Equal([$"removed the private temp folder of a killed run (deleted-0123456789ab/run1, process {exited.Id}): it held that run's tap config"], notices);
        Assert.False(Directory.Exists(killed));
        Assert.All(new[] { live, unmarked, justKilled, otherHost }, f => Assert.True(Directory.Exists(f), f));
    }

    /// <summary>
    /// Scratch files (a discovery's tap config, a Delta checkpoint being built) live in a folder per process, marked with its
    /// owner: a folder whose process is gone is removed at once, with a notice when it still held files; one of a live
    /// process stays, also when its pid is given to another process (told by its start time).
    /// </summary>
    [Fact]
    public void Scratch_folders_of_processes_that_are_gone_are_removed_and_a_live_ones_stay()
    {
        using var exited = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        exited.WaitForExit();
        var here = Environment.MachineName;
        var space = DataSpoc.Pipe.Lake.HostProcess.Space;
        var started = DataSpoc.Pipe.Lake.HostProcess.StartTime(Environment.ProcessId)!.Value;
        string ScratchFolder(string name, string owner, int files)
        {
            var folder = Path.Combine(Root, "scratch", name);
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, PrivateTempRoot.OwnerFile), owner);
            for (var i = 0; i < files; i++) File.WriteAllText(Path.Combine(folder, $"dataspoc-pipe-config-{i}.json"), "{\"password\":\"x\"}");
            return folder;
        }
        var killed = ScratchFolder("killed", $"{here}\n{exited.Id}\n{space}\n\n", 2);
        var ended = ScratchFolder("ended", $"{here}\n{exited.Id}\n{space}\n\n", 0);
        var live = ScratchFolder("live", $"{here}\n{Environment.ProcessId}\n{space}\n{started}\n", 1);
        var reused = ScratchFolder("reused", $"{here}\n{Environment.ProcessId}\n{space}\n{started - 1}\n", 1);
        var ours = PrivateTempRoot.ScratchFolder(Root);

        var notices = PrivateTempRoot.RemoveKilledRunFolders(Root);

        Assert.Equal([
            $"removed the scratch folder of a killed process (scratch/killed, process {exited.Id}): it held 2 scratch file(s) (a tap config for discovery, a Delta checkpoint, copies of table files)",
            $"removed the scratch folder of a killed process (scratch/reused, process {Environment.ProcessId}): it held 1 scratch file(s) (a tap config for discovery, a Delta checkpoint, copies of table files)",
        ], notices.Order());
        Assert.All(new[] { killed, ended, reused }, f => Assert.False(Directory.Exists(f), f));
        Assert.All(new[] { live, ours }, f => Assert.True(Directory.Exists(f), f));
    }

    [Fact]
    public void A_scratch_file_an_earlier_build_left_loose_in_scratch_is_removed_once_a_day_old()
    {
        var scratch = Path.Combine(Root, "scratch");
        Directory.CreateDirectory(scratch);
        var old = Path.Combine(scratch, "dataspoc-pipe-config-0123.json");
        var recent = Path.Combine(scratch, "dataspoc-delta-checkpoint-4567.parquet");
        File.WriteAllText(old, "{}");
        File.WriteAllText(recent, "x");
        File.SetLastWriteTimeUtc(old, DateTime.UtcNow - PrivateTempRoot.UnownedScratchAge - TimeSpan.FromMinutes(1));

        var notices = PrivateTempRoot.RemoveKilledRunFolders(Root);

        Assert.Equal(["removed 1 scratch file(s) an earlier version left in scratch/ (over 24 hours old)"], notices);
        Assert.False(File.Exists(old));
        Assert.True(File.Exists(recent));
    }

    /// <summary>
    /// A run killed where its tap cannot die with it (no setpriv, e.g. a minimal container image) leaves the tap running;
    /// one waiting on a long source query writes nothing that would end it. The run that finds the killed run's folder
    /// stops that tap (checked by its start time, so a process given the pid since is left alone), also within the grace
    /// period that keeps the folder itself for its own pipeline's next run. The run that finds it may be another
    /// pipeline's: within the grace period the notice is left for the killed run's own pipeline (its next run finds it in
    /// the folder), after it the notice of the folder's removal names the folder (its pipeline) and the tap.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_tap_a_killed_run_left_running_is_stopped_by_the_run_that_finds_its_folder(bool recent)
    {
        using var exited = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        exited.WaitForExit();
        using var tap = Process.Start(new ProcessStartInfo("sleep", ["300"]) { UseShellExecute = false })!;
        using var stranger = Process.Start(new ProcessStartInfo("sleep", ["300"]) { UseShellExecute = false })!;
        try
        {
            string KilledRunFolder(string run, Process recorded)
            {
                var folder = Path.Combine(Root, "private", "quiet-0123456789ab", run);
                Directory.CreateDirectory(folder);
                DataSpoc.Pipe.Sources.TapRecord.Write(folder, recorded);
                var owner = Path.Combine(folder, PrivateTempRoot.OwnerFile);
                File.WriteAllText(owner, $"{Environment.MachineName}\n{exited.Id}\n{DataSpoc.Pipe.Lake.HostProcess.Space}\n");
                File.SetLastWriteTimeUtc(owner, recent ? DateTime.UtcNow : DateTime.UtcNow - PrivateTempRoot.KilledRunGrace - TimeSpan.FromMinutes(1));
                return folder;
            }
            var killed = KilledRunFolder("run1", tap);
            // The record of a process that ended, whose pid another process now has: another start time.
            var reused = KilledRunFolder("run2", stranger);
            var record = Path.Combine(reused, DataSpoc.Pipe.Sources.TapRecord.FileName);
            var lines = File.ReadAllLines(record);
            File.WriteAllLines(record, [lines[0], (long.Parse(lines[1], System.Globalization.CultureInfo.InvariantCulture) - 1).ToString(System.Globalization.CultureInfo.InvariantCulture), lines[2]]);

            var notices = PrivateTempRoot.RemoveKilledRunFolders(Root);

            Assert.True(tap.WaitForExit(TimeSpan.FromSeconds(10)), "the killed run's tap is still running");
            Assert.False(stranger.HasExited, "a process with another start time than the recorded tap's was stopped");
            var stopped = $"stopped the tap of a killed run (pid {tap.Id}, run run1), still running since that run ended";
            Assert.Equal(!recent, !Directory.Exists(killed));
            if (recent)
            {
                Assert.Empty(notices);
                // What the killed run's own pipeline reads when its next run cleans the folder up.
                Assert.Equal(stopped, DataSpoc.Pipe.Sources.TapRecord.StopLeftover(killed));
                Assert.Null(DataSpoc.Pipe.Sources.TapRecord.StopLeftover(reused));
            }
            else
                Assert.Contains($"removed the private temp folder of a killed run (quiet-0123456789ab/run1, process {exited.Id}): it held that run's tap config; {stopped}", notices);
        }
        finally
        {
            if (!tap.HasExited) tap.Kill();
            stranger.Kill();
        }
    }
}

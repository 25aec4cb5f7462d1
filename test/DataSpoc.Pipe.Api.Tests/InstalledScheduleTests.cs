using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Api.Tests;

/// <summary>
/// What <see cref="PipeClient.StatusAsync"/> says about this home's crontab lines: a line is the home's whatever the
/// spelling of the home it was written through, a line of a pipeline the home no longer has gets a row of its own, and a
/// line an earlier version or another binary wrote is flagged.
/// </summary>
public class InstalledScheduleTests
{
    private static void WriteNightly(TempHome home, string name) =>
        home.WritePipeline(name, $"source:\n  tap: {TempHome.ReplayTap}\ndestination:\n  bucket: {home.Bucket}\nschedule:\n  cron: \"30 2 * * *\"\n");

    private static PipeClient Client(TempHome home, string homePath, IReadOnlyList<string>? program = null) =>
        new(homePath, crontab: CrontabStandIn.Command(home.CrontabFile)) { ScheduledProgram = program };

    [Fact]
    public async Task A_line_written_through_a_link_to_the_home_or_with_a_trailing_slash_is_this_homes()
    {
        using var home = new TempHome();
        var name = home.Name("nightly");
        WriteNightly(home, name);
        var link = Path.Combine(home.Root, "home-link");
        Directory.CreateSymbolicLink(link, home.Home);
        foreach (var (written, read) in new[] { (link, home.Home), (home.Home + "/", link), (home.Home, link + "/") })
        {
            // As an earlier build wrote it: the tag holds the home as it was typed.
            File.WriteAllText(home.CrontabFile, $"30 2 * * * true # dataspoc-pipe:{name}@{written}\n");
            var status = Assert.Single(await Client(home, read).StatusAsync());
            Assert.Equal(("30 2 * * *", name), (status.InstalledSchedule, status.Pipeline));
            Assert.NotNull(status.NextRun);
        }
        // Every spelling of the home writes one tag: its real path, without a trailing '/'.
        Assert.Equal($"# dataspoc-pipe:{name}@{home.Home}", DataSpoc.Pipe.Scheduling.CrontabEntries.Tag(link + "/", name));
    }

    [Fact]
    public async Task A_line_of_a_pipeline_the_home_no_longer_has_gets_a_row_saying_how_to_remove_it()
    {
        using var home = new TempHome();
        var kept = home.Name("kept");
        var gone = home.Name("gone");
        WriteNightly(home, kept);
        var client = Client(home, home.Home);
        File.WriteAllText(home.CrontabFile, CrontabStandIn.InstalledLine(client.Home, kept, "30 2 * * *") + "\n" +
            CrontabStandIn.InstalledLine(client.Home, gone, "*/5 * * * *") + "\n");

        var rows = await client.StatusAsync();
        Assert.Equal([kept, gone], rows.Select(r => r.Pipeline));
        Assert.Null(rows[0].ScheduleProblem);
        var orphan = rows[1];
        Assert.Equal((PipeClient.NotInHome, "*/5 * * * *", null), (orphan.Status, orphan.InstalledSchedule, orphan.Schedule));
        Assert.Equal($"the crontab runs '{gone}', which is not in this home (run: dataspoc-pipe schedule remove {gone})", orphan.ScheduleProblem);
        Assert.NotNull(orphan.NextRun); // cron still runs it (and it fails) until the line is removed
    }

    [Fact]
    public async Task A_line_an_earlier_version_or_another_binary_installed_is_flagged()
    {
        using var home = new TempHome();
        var name = home.Name("nightly");
        WriteNightly(home, name);
        var current = Client(home, home.Home, ["/opt/new/dataspoc-pipe"]);
        var line = CrontabStandIn.InstalledLine(current.Home, name, "30 2 * * *", "/opt/new/dataspoc-pipe");
        async Task<string?> Problem(PipeClient client, string crontab)
        {
            File.WriteAllText(home.CrontabFile, crontab + "\n");
            return Assert.Single(await client.StatusAsync()).ScheduleProblem;
        }

        Assert.Null(await Problem(current, line));
        // The caller's PATH is not the installing shell's: not a problem of the line.
        Assert.Null(await Problem(current, line.Replace("PATH=/usr/bin:/bin", "PATH=/opt/bin:/usr/bin", StringComparison.Ordinal)));
        const string reinstall = "installed by an earlier version or another binary (run: dataspoc-pipe schedule install)";
        Assert.Equal($"the crontab line starts '/opt/old/dataspoc-pipe', not '/opt/new/dataspoc-pipe': {reinstall}",
            await Problem(current, line.Replace("/opt/new/", "/opt/old/", StringComparison.Ordinal)));
        // An earlier version's line: no --rotate-log.
        var log = Path.Combine(current.Home, "logs", name + ".log");
        var withoutRotation = line.Replace($" --rotate-log {log}", "", StringComparison.Ordinal);
        Assert.NotEqual(line, withoutRotation);
        Assert.Equal($"the crontab line's command is not the one schedule install writes now: {reinstall}", await Problem(current, withoutRotation));
        // A client that does not know which binary cron should start (an application's own process) checks the rest.
        var anyProgram = Client(home, home.Home);
        Assert.Null(await Problem(anyProgram, line.Replace("/opt/new/", "/opt/old/", StringComparison.Ordinal)));
        Assert.Equal($"the crontab line's command is not the one schedule install writes now: {reinstall}", await Problem(anyProgram, withoutRotation));
    }

    [Fact]
    public async Task A_maintain_line_is_read_in_its_own_zone_and_a_maintain_not_installed_in_the_one_install_would_give_it()
    {
        using var home = new TempHome();
        var (archive, orders) = (home.Name("archive"), home.Name("orders"));
        var pipeline = $"source:\n  tap: {TempHome.ReplayTap}\ndestination:\n  bucket: {home.Bucket}\nschedule:\n  maintain:\n    cron: \"0 3 * * *\"\n";
        home.WritePipeline(archive, pipeline);
        home.WritePipeline(orders, pipeline);
        var client = Client(home, home.Home);
        var maintain = new DataSpoc.Pipe.Config.MaintainSchedule { Cron = "0 3 * * *", ExpireOlderThan = TimeSpan.FromDays(7) };
        var line = $"0 3 * * * {CrontabStandIn.CommandText(DataSpoc.Pipe.Scheduling.CrontabEntries.MaintainCommandWords(client.Home, archive, "/usr/bin:/bin", ["/usr/local/bin/dataspoc-pipe"], maintain))} " +
            DataSpoc.Pipe.Scheduling.CrontabEntries.Tag(client.Home, archive, DataSpoc.Pipe.Scheduling.ScheduleKind.Maintain);
        File.WriteAllText(home.CrontabFile, $"CRON_TZ=Pacific/Kiritimati\n{line}\nCRON_TZ=Asia/Kathmandu\n");

        var rows = (await client.StatusAsync()).ToDictionary(r => r.Pipeline);
        // schedule.maintain is the pipeline's only schedule: its maintain line is read in the CRON_TZ above it.
        Assert.Equal(("Pacific/Kiritimati", null), (rows[archive].MaintainTimeZone, rows[archive].MaintainProblem));
        Assert.Equal(3, TimeZoneInfo.ConvertTime(rows[archive].NextMaintain!.Value, TimeZoneInfo.FindSystemTimeZoneById("Pacific/Kiritimati")).Hour);
        // Not installed: install would add its line at the end, under the crontab's last CRON_TZ, as for a run line.
        Assert.Equal(("Asia/Kathmandu", "Asia/Kathmandu", null), (rows[orders].MaintainTimeZone, rows[orders].ScheduleTimeZone, rows[orders].NextMaintain));
    }
}

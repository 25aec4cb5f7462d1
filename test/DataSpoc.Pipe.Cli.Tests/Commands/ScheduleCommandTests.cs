using System.Globalization;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Cli.Tests.Support;
using DataSpoc.Pipe.Scheduling;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

public sealed class ScheduleCommandTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    private const string OthersLines = "# m h dom mon dow command\n15 4 * * * /usr/local/bin/backup --all\n";

    private string[] CrontabLines() => File.ReadAllText(_home.CrontabFile).TrimEnd('\n').Split('\n');

    [Fact]
    public void Install_writes_one_flock_guarded_line_per_scheduled_pipeline_and_is_idempotent()
    {
        File.WriteAllText(_home.CrontabFile, OthersLines);
        _home.WriteShopPipeline("hourly", extraTop: "schedule:\n  cron: \"0 * * * *\"\n");
        _home.WriteShopPipeline("nightly", extraTop: "schedule:\n  cron: \"30 2 * * *\"\n");
        _home.WriteShopPipeline("manual");

        var result = CliProcess.Run(_home, "schedule", "install", "-o", "json");
        Assert.True(result.ExitCode == 0, result.ToString());
        var doc = Json.Parse(result);
        Assert.True(doc.Bool("changed"));
        Assert.Equal(["hourly", "nightly"], doc["entries"]!.AsArray().Select(e => e.Str("pipeline")));
        Assert.Equal(["0 * * * *", "30 2 * * *"], doc["entries"]!.AsArray().Select(e => e.Str("cron")));

        var lines = CrontabLines();
        Assert.Equal(4, lines.Length);
        Assert.Equal(OthersLines.TrimEnd('\n').Split('\n'), lines[..2]);
        var hourly = lines[2];
        Assert.StartsWith("0 * * * * PATH=", hourly);
        Assert.Contains($"DATASPOC_PIPE_HOME={_home.Home} flock -n -E 75 {_home.Home}/logs/hourly.lock ", hourly);
        Assert.Contains($" run hourly --rotate-log {_home.Home}/logs/hourly.log >> {_home.Home}/logs/hourly.log 2>&1 || {{ [ $? -eq 75 ] && date -u '+hourly: skipped \\%Y-\\%m-\\%d \\%H:\\%M:\\%SZ: the lock {_home.Home}/logs/hourly.lock is held (the previous run or a maintain of the pipeline still going)' >> {_home.Home}/logs/hourly.log ; }} # dataspoc-pipe:hourly@{_home.Home}", hourly);
        Assert.StartsWith("30 2 * * * ", lines[3]);
        Assert.EndsWith($"# dataspoc-pipe:nightly@{_home.Home}", lines[3]);

        var before = File.ReadAllText(_home.CrontabFile);
        var again = Json.Parse(CliProcess.Run(_home, "schedule", "install", "-o", "json"));
        Assert.False(again.Bool("changed"));
        Assert.Equal(before, File.ReadAllText(_home.CrontabFile));
    }

    [Theory]
    [InlineData("DATASPOC_PIPE_HOME")]
    [InlineData("PATH")]
    public void Install_refuses_a_control_character_in_any_value_of_the_line_and_leaves_the_crontab_alone(string variable)
    {
        // Quoting cannot help: cron ends a line at the newline, and the rest would be a line of its own.
        const string injected = "\n* * * * * touch /tmp/PWNED #";
        File.WriteAllText(_home.CrontabFile, OthersLines);
        string shown;
        if (variable == "PATH")
        {
            _home.WriteShopPipeline("nightly", extraTop: "schedule:\n  cron: \"30 2 * * *\"\n");
            var path = Environment.GetEnvironmentVariable("PATH") + ":/opt/bin" + injected;
            _home.Set("PATH", path);
            shown = path.Replace("\n", "\\u000a", StringComparison.Ordinal);
        }
        else
        {
            var home = Path.Combine(_home.Root, "h" + injected);
            var pipelines = Path.Combine(home, "pipelines");
            Directory.CreateDirectory(pipelines);
            File.WriteAllText(Path.Combine(pipelines, "nightly.yaml"),
                $"source:\n  tap: {CliProcess.ShopTap}\ndestination:\n  bucket: {_home.Bucket}\nschedule:\n  cron: \"30 2 * * *\"\n");
            _home.Set("DATASPOC_PIPE_HOME", home);
            shown = home.Replace("\n", "\\u000a", StringComparison.Ordinal);
        }

        var result = CliProcess.Run(_home, "schedule", "install");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(shown, result.Stderr, StringComparison.Ordinal);
        Assert.Contains("control character", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(OthersLines, File.ReadAllText(_home.CrontabFile));
    }

    [Fact]
    public void Install_drops_entries_of_pipelines_no_longer_scheduled_and_remove_keeps_other_lines()
    {
        File.WriteAllText(_home.CrontabFile, OthersLines);
        _home.WriteShopPipeline("a", extraTop: "schedule:\n  cron: \"0 * * * *\"\n");
        _home.WriteShopPipeline("b", extraTop: "schedule:\n  cron: \"5 * * * *\"\n");
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        _home.WriteShopPipeline("b");
        var reinstall = Json.Parse(CliProcess.Run(_home, "schedule", "install", "-o", "json"));
        Assert.Equal(["b"], reinstall["removed"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(3, CrontabLines().Length);

        var list = Json.Parse(CliProcess.Run(_home, "schedule", "list", "-o", "json"));
        var entry = list["entries"]!.AsArray().Single()!;
        Assert.Equal("a", entry.Str("pipeline"));
        Assert.True(DateTimeOffset.Parse(entry.Str("next_run")) > DateTimeOffset.UtcNow);

        var removed = Json.Parse(CliProcess.Run(_home, "schedule", "remove", "-o", "json"));
        Assert.Equal(["a"], removed["removed"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(OthersLines, File.ReadAllText(_home.CrontabFile));
    }

    [Fact]
    public void Remove_touches_only_this_homes_entries_and_one_pipeline_when_named()
    {
        var otherHome = "# dataspoc-pipe:a@/some/other/home";
        File.WriteAllText(_home.CrontabFile, $"0 1 * * * run-a {otherHome}\n");
        _home.WriteShopPipeline("a", extraTop: "schedule:\n  cron: \"0 * * * *\"\n");
        _home.WriteShopPipeline("b", extraTop: "schedule:\n  cron: \"5 * * * *\"\n");
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        Assert.Equal(3, CrontabLines().Length);

        Assert.Equal(0, CliProcess.Run(_home, "schedule", "remove", "b").ExitCode);
        var lines = CrontabLines();
        Assert.Equal(2, lines.Length);
        Assert.EndsWith(otherHome, lines[0]);
        Assert.EndsWith($"# dataspoc-pipe:a@{_home.Home}", lines[1]);

        // A typo is not "nothing to remove": it names the pipeline and lists the known ones, and changes nothing.
        var typo = CliProcess.Run(_home, "schedule", "remove", "nosuch");
        Assert.Equal(2, typo.ExitCode);
        Assert.Equal("error: unknown pipeline 'nosuch'; known pipelines: a, b\n", typo.Stderr);
        Assert.Equal(lines, CrontabLines());
        // A pipeline without an entry (b, just removed) is known: nothing to do, no error.
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "remove", "b").ExitCode);
    }

    [Fact]
    public void A_home_path_with_an_at_sign_lists_removes_and_reinstalls_its_pipelines_by_name()
    {
        // SSSD homes look like /home/jane@corp.example.com: the tag's name ends at the first '@', the home is the rest.
        var home = Path.Combine(_home.Root, "jane@corp.example.com", "pipe-home");
        _home.Set("DATASPOC_PIPE_HOME", home);
        // A line of another home whose path ends with this one's is not this home's (its "name" would hold '@').
        var otherHome = $"0 1 * * * run-p1 # dataspoc-pipe:p1@/srv/x@{home}";
        File.WriteAllText(_home.CrontabFile, otherHome + "\n");
        foreach (var name in new[] { "p1", "p2" })
        {
            Directory.CreateDirectory(Path.Combine(home, "pipelines"));
            File.WriteAllText(Path.Combine(home, "pipelines", name + ".yaml"),
                $"source:\n  tap: {CliProcess.ShopTap}\ndestination:\n  bucket: {_home.Bucket}\nschedule:\n  cron: \"0 3 * * *\"\n");
        }
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        var list = Json.Parse(CliProcess.Run(_home, "schedule", "list", "-o", "json"));
        Assert.Equal(["p1", "p2"], list["entries"]!.AsArray().Select(e => e.Str("pipeline")));

        var removed = CliProcess.Run(_home, "schedule", "remove", "p1", "-o", "json");
        Assert.True(removed.ExitCode == 0, removed.ToString());
        Assert.Equal(["p1"], Json.Parse(removed)["removed"]!.AsArray().Select(n => n!.GetValue<string>()));
        var lines = CrontabLines();
        Assert.Equal(2, lines.Length);
        Assert.Equal(otherHome, lines[0]);
        Assert.EndsWith($"# dataspoc-pipe:p2@{home}", lines[1]);

        // p2's YAML gone: install removes its line and names it as p2.
        File.Delete(Path.Combine(home, "pipelines", "p2.yaml"));
        var reinstall = Json.Parse(CliProcess.Run(_home, "schedule", "install", "-o", "json"));
        Assert.Equal(["p2"], reinstall["removed"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(["p1"], reinstall["entries"]!.AsArray().Select(e => e.Str("pipeline")));
        Assert.Equal(otherHome, CrontabLines()[0]);
    }

    [Fact]
    public void Install_and_remove_keep_every_line_that_is_not_one_of_ours_byte_for_byte()
    {
        // Blank lines, comments, environment lines, CRLF line ends, another user's jobs, a line without its newline
        // last, and an entry of this home the user paused by commenting it out: none of it is ours to change.
        var original = "# my crontab\r\nSHELL=/bin/bash\nMAILTO=ops@example.com\n\n\n15 4 * * * /usr/local/bin/backup --all\r\n" +
            $"# paused: */5 * * * * echo x # dataspoc-pipe:nightly@{_home.Home}\n\t\n@reboot /usr/bin/true";
        File.WriteAllText(_home.CrontabFile, original);
        _home.WriteShopPipeline("nightly", extraTop: "schedule:\n  cron: \"30 2 * * *\"\n");

        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        var installed = File.ReadAllText(_home.CrontabFile);
        Assert.StartsWith(original + "\n30 2 * * * ", installed);
        Assert.EndsWith($"# dataspoc-pipe:nightly@{_home.Home}\n", installed);
        Assert.Single(installed.Split('\n'), l => l.StartsWith("30 2 * * * ", StringComparison.Ordinal));

        // Our line edited in place, where it stands (it keeps the lines around it and their order).
        var ourLine = installed[(original.Length + 1)..].TrimEnd('\n');
        File.WriteAllText(_home.CrontabFile, "A=1\n" + ourLine + "\r\n# after\n");
        _home.WriteShopPipeline("nightly", extraTop: "schedule:\n  cron: \"45 3 * * *\"\n");
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        Assert.Equal("A=1\n" + ourLine.Replace("30 2 * * * ", "45 3 * * * ", StringComparison.Ordinal) + "\r\n# after\n", File.ReadAllText(_home.CrontabFile));

        File.WriteAllText(_home.CrontabFile, installed);
        var removed = Json.Parse(CliProcess.Run(_home, "schedule", "remove", "-o", "json"));
        Assert.Equal(["nightly"], removed["removed"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(original + "\n", File.ReadAllText(_home.CrontabFile));
        File.WriteAllText(_home.CrontabFile, installed);
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "remove", "nightly").ExitCode);
        Assert.Equal(original + "\n", File.ReadAllText(_home.CrontabFile));
    }

    [Fact]
    public void The_next_run_is_read_in_the_machine_zone_or_the_crontabs_CRON_TZ_never_in_the_callers_TZ()
    {
        // cron never sees the caller's $TZ: a shell or MCP client with one must be told cron's times.
        var machine = CronTimeZones.Machine.Id;
        var callers = machine == "Pacific/Kiritimati" ? "America/New_York" : "Pacific/Kiritimati";
        _home.Set("TZ", callers);
        File.WriteAllText(_home.CrontabFile, OthersLines);
        _home.WriteShopPipeline("nightly", extraTop: "schedule:\n  cron: \"30 2 * * *\"\n");
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);

        void AssertNextRun(string zone)
        {
            var entry = Json.Parse(CliProcess.Run(_home, "schedule", "list", "-o", "json"))["entries"]!.AsArray().Single()!;
            Assert.Equal(zone, entry.Str("time_zone"));
            var next = TimeZoneInfo.ConvertTime(DateTimeOffset.Parse(entry.Str("next_run")), TimeZoneInfo.FindSystemTimeZoneById(zone));
            Assert.Equal((2, 30), (next.Hour, next.Minute));
            var row = Json.Parse(CliProcess.Run(_home, "status", "-o", "json")).AsArray().Single()!;
            Assert.Equal((zone, entry.Str("next_run")), (row.Str("schedule_time_zone"), row.Str("next_run")));
            var table = CliProcess.Run(_home, "schedule", "list");
            Assert.Matches($@"│ nightly\s+│ run\s+│ 30 2 \* \* \*\s+│ {zone}\s+│ {next.UtcDateTime:yyyy-MM-dd HH:mm}Z", table.Stdout);
        }
        AssertNextRun(machine);

        // cronie reads the lines below a CRON_TZ line in that zone; install appends ours after the user's lines.
        var zone = machine == "Asia/Tokyo" ? "Europe/Berlin" : "Asia/Tokyo";
        File.WriteAllText(_home.CrontabFile, $"CRON_TZ = \"{zone}\"\n" + OthersLines);
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        Assert.StartsWith($"CRON_TZ = \"{zone}\"\n" + OthersLines, File.ReadAllText(_home.CrontabFile));
        AssertNextRun(zone);
    }

    [Fact]
    public void Schedule_list_and_status_promise_the_day_cron_runs_when_both_day_fields_are_restricted()
    {
        // cron (crontab(5), cronie): with day-of-month and day-of-week both restricted, a day matching EITHER runs;
        // a day field starting with '*' (a step too) is unrestricted, and then both must match.
        var cases = new (string Pipeline, string Cron, Func<DateTime, bool> Runs)[]
        {
            ("first-or-monday", "0 12 1 * 1", d => d.Day == 1 || d.DayOfWeek == DayOfWeek.Monday),
            ("thirteenth-or-friday", "0 12 13 * 5", d => d.Day == 13 || d.DayOfWeek == DayOfWeek.Friday),
            ("february-mondays", "0 12 31 2 1", d => d.Month == 2 && d.DayOfWeek == DayOfWeek.Monday),
            ("any-day", "0 12 1-31 * 2", _ => true),
            ("odd-tuesdays", "0 12 */2 * 2", d => d.Day % 2 == 1 && d.DayOfWeek == DayOfWeek.Tuesday),
            ("tenth-on-even-weekday", "0 12 10 * */2", d => d.Day == 10 && (int)d.DayOfWeek % 2 == 0),
        };
        // Read in UTC whatever the machine's zone, so the days above are UTC days.
        File.WriteAllText(_home.CrontabFile, "CRON_TZ=Etc/UTC\n");
        foreach (var (pipeline, cron, _) in cases) _home.WriteShopPipeline(pipeline, extraTop: $"schedule:\n  cron: \"{cron}\"\n");
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);

        var before = DateTimeOffset.UtcNow;
        var listed = Json.Parse(CliProcess.Run(_home, "schedule", "list", "-o", "json"))["entries"]!.AsArray().ToDictionary(e => e.Str("pipeline"), e => e.Str("next_run"));
        var status = Json.Parse(CliProcess.Run(_home, "status", "-o", "json")).AsArray().ToDictionary(r => r.Str("pipeline"), r => r.Str("next_run"));
        var after = DateTimeOffset.UtcNow;
        foreach (var (pipeline, cron, runs) in cases)
        {
            // The noon of the first such day still ahead (the clock may pass a noon while the commands run).
            Assert.Contains(DateTimeOffset.Parse(listed[pipeline]), new[] { NextNoon(before, runs), NextNoon(after, runs) });
            Assert.Equal((cron, listed[pipeline]), (cron, status[pipeline]));
        }

        static DateTimeOffset NextNoon(DateTimeOffset from, Func<DateTime, bool> runs)
        {
            var day = from.UtcDateTime.Date;
            while (!runs(day) || day.AddHours(12) <= from.UtcDateTime) day = day.AddDays(1);
            return new DateTimeOffset(day.AddHours(12), TimeSpan.Zero);
        }
    }

    [Fact]
    public void Status_promises_only_the_runs_the_crontab_makes_and_says_why_when_they_differ_from_the_yaml()
    {
        _home.WriteShopPipeline("nightly", extraTop: "schedule:\n  cron: \"30 2 * * *\"\n");
        JsonNode Row() => Json.Parse(CliProcess.Run(_home, "status", "-o", "json")).AsArray().Single()!;

        var notInstalled = Row();
        Assert.Null(notInstalled["next_run"]);
        Assert.Null(notInstalled["installed_schedule"]);
        Assert.Equal("not installed: cron does not run it (run: dataspoc-pipe schedule install)", notInstalled.Str("schedule_problem"));
        var table = CliProcess.Run(_home, "status");
        Assert.Matches(@"│ nightly\s+│ never run\s+│.*│ 30 2 \* \* \*\s+│ - !", table.Stdout);
        // The explanation is wrapped to the terminal's width.
        Assert.Contains("nightly ! not installed: cron does not run it (run: dataspoc-pipe schedule install)",
            System.Text.RegularExpressions.Regex.Replace(table.Stdout, @"\s+", " "));

        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        var installed = Row();
        Assert.Equal("30 2 * * *", installed.Str("installed_schedule"));
        Assert.Null(installed["schedule_problem"]);
        Assert.NotNull(installed["next_run"]);

        // schedule.cron edited but not installed: the next run is the one cron makes, from the old line.
        _home.WriteShopPipeline("nightly", extraTop: "schedule:\n  cron: \"0 5 * * *\"\n");
        var edited = Row();
        Assert.Equal(installed.Str("next_run"), edited.Str("next_run"));
        Assert.Equal("the crontab runs it at '30 2 * * *', not at schedule.cron '0 5 * * *' (run: dataspoc-pipe schedule install)", edited.Str("schedule_problem"));

        // Removed: no next run.
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "remove", "nightly").ExitCode);
        Assert.Null(Row()["next_run"]);
    }

    [Fact]
    public void The_home_through_a_link_or_with_a_trailing_slash_is_one_home_for_install_remove_list_and_status()
    {
        // Earlier builds tagged the home as typed: one pipeline got a line per spelling, and remove left the others running.
        _home.WriteShopPipeline("nightly", extraTop: "schedule:\n  cron: \"30 2 * * *\"\n");
        var link = Path.Combine(_home.Root, "home-link");
        Directory.CreateSymbolicLink(link, _home.Home);
        string[] earlier = [$"0 1 * * * run-it # dataspoc-pipe:nightly@{link}", $"0 1 * * * run-it # dataspoc-pipe:nightly@{_home.Home}/"];
        void WriteEarlierLines() => File.WriteAllText(_home.CrontabFile, OthersLines + string.Join("\n", earlier) + "\n");

        WriteEarlierLines();
        var list = Json.Parse(CliProcess.Run(_home, "schedule", "list", "-o", "json"))["entries"]!.AsArray();
        Assert.Equal(["nightly", "nightly"], list.Select(e => e.Str("pipeline")));
        var row = Json.Parse(CliProcess.Run(_home.Set("DATASPOC_PIPE_HOME", link + "/"), "status", "-o", "json")).AsArray().Single()!;
        Assert.Equal("0 1 * * *", row.Str("installed_schedule"));

        // Removed through a third spelling: both lines go.
        var removed = CliProcess.Run(_home, "schedule", "remove", "nightly", "-o", "json");
        Assert.True(removed.ExitCode == 0, removed.ToString());
        Assert.Equal(OthersLines, File.ReadAllText(_home.CrontabFile));
        Assert.Equal("not installed: cron does not run it (run: dataspoc-pipe schedule install)",
            Json.Parse(CliProcess.Run(_home, "status", "-o", "json")).AsArray().Single()!.Str("schedule_problem"));

        // Installed through the link: one line, which names the home by its real path, replacing both.
        WriteEarlierLines();
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        var lines = CrontabLines();
        Assert.Equal(3, lines.Length);
        Assert.Contains($"DATASPOC_PIPE_HOME={_home.Home} flock -n -E 75 {_home.Home}/logs/nightly.lock ", lines[2]);
        Assert.EndsWith($"# dataspoc-pipe:nightly@{_home.Home}", lines[2]);
        Assert.StartsWith("30 2 * * * ", lines[2]);
        // ... and installing through the real path changes nothing.
        Assert.False(Json.Parse(CliProcess.Run(_home.Set("DATASPOC_PIPE_HOME", _home.Home), "schedule", "install", "-o", "json")).Bool("changed"));
    }

    [Fact]
    public void A_line_of_a_pipeline_no_longer_in_the_home_is_flagged_by_list_and_status_and_remove_and_install_drop_it()
    {
        _home.WriteShopPipeline("kept", extraTop: "schedule:\n  cron: \"0 * * * *\"\n");
        _home.WriteShopPipeline("renamed", extraTop: "schedule:\n  cron: \"*/5 * * * *\"\n");
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        var installed = File.ReadAllText(_home.CrontabFile);
        File.Move(Path.Combine(_home.Pipelines, "renamed.yaml"), Path.Combine(_home.Pipelines, "kept2.yaml"));
        const string problem = "the crontab runs 'renamed', which is not in this home (run: dataspoc-pipe schedule remove renamed)";

        var entries = Json.Parse(CliProcess.Run(_home, "schedule", "list", "-o", "json"))["entries"]!.AsArray();
        Assert.Equal(["kept", "renamed"], entries.Select(e => e.Str("pipeline")));
        Assert.Null(entries[0]!["problem"]);
        Assert.Equal(problem, entries[1].Str("problem"));
        var table = CliProcess.Run(_home, "schedule", "list");
        Assert.Matches(@"│ renamed\s+│ run\s+│ \*/5 \* \* \* \*\s+│ .+│ \S+ \S+Z !", table.Stdout);
        Assert.Contains("renamed ! " + problem, System.Text.RegularExpressions.Regex.Replace(table.Stdout, @"\s+", " "));

        var rows = Json.Parse(CliProcess.Run(_home, "status", "-o", "json")).AsArray();
        Assert.Equal(["kept", "kept2", "renamed"], rows.Select(r => r.Str("pipeline")));
        var orphan = rows[2]!;
        Assert.Equal(("not in home", "*/5 * * * *", problem), (orphan.Str("status"), orphan.Str("installed_schedule"), orphan.Str("schedule_problem")));
        Assert.NotNull(orphan["next_run"]);
        Assert.Contains("renamed ! " + problem, System.Text.RegularExpressions.Regex.Replace(CliProcess.Run(_home, "status").Stdout, @"\s+", " "));

        // The command the problem names removes it; so does install (every line of this home whose pipeline is gone).
        var removed = Json.Parse(CliProcess.Run(_home, "schedule", "remove", "renamed", "-o", "json"));
        Assert.Equal(["renamed"], removed["removed"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(["kept"], Json.Parse(CliProcess.Run(_home, "schedule", "list", "-o", "json"))["entries"]!.AsArray().Select(e => e.Str("pipeline")));
        File.WriteAllText(_home.CrontabFile, installed);
        var reinstall = Json.Parse(CliProcess.Run(_home, "schedule", "install", "-o", "json"));
        Assert.Equal(["renamed"], reinstall["removed"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(["kept", "kept2"], reinstall["entries"]!.AsArray().Select(e => e.Str("pipeline")));
    }

    [Fact]
    public void A_line_an_earlier_version_or_another_binary_installed_is_flagged_until_install_rewrites_it()
    {
        _home.WriteShopPipeline("nightly", extraTop: "schedule:\n  cron: \"30 2 * * *\"\n");
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        var line = CrontabLines().Single();
        (string? List, string? Status) Problems()
        {
            var entry = Json.Parse(CliProcess.Run(_home, "schedule", "list", "-o", "json"))["entries"]!.AsArray().Single()!;
            var row = Json.Parse(CliProcess.Run(_home, "status", "-o", "json")).AsArray().Single()!;
            return (entry["problem"]?.GetValue<string>(), row["schedule_problem"]?.GetValue<string>());
        }
        Assert.Equal((null, null), Problems());
        // Another caller's PATH is not the line's problem.
        Assert.Equal((null, null), ProblemsWithPath());

        const string reinstall = "installed by an earlier version or another binary (run: dataspoc-pipe schedule install)";
        // An earlier version's line: no --rotate-log.
        var log = $"{_home.Home}/logs/nightly.log";
        File.WriteAllText(_home.CrontabFile, line.Replace($" --rotate-log {log}", "", StringComparison.Ordinal) + "\n");
        var earlier = $"the crontab line's command is not the one schedule install writes now: {reinstall}";
        Assert.Equal((earlier, earlier), Problems());

        // Another binary's line.
        var program = line[(line.IndexOf("/logs/nightly.lock ", StringComparison.Ordinal) + "/logs/nightly.lock ".Length)..line.IndexOf(" run nightly ", StringComparison.Ordinal)];
        File.WriteAllText(_home.CrontabFile, line.Replace(program, "/opt/old/dataspoc-pipe", StringComparison.Ordinal) + "\n");
        var other = $"the crontab line starts '/opt/old/dataspoc-pipe', not '{program}': {reinstall}";
        Assert.Equal((other, other), Problems());

        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        Assert.Equal(line, CrontabLines().Single());
        Assert.Equal((null, null), Problems());

        (string?, string?) ProblemsWithPath()
        {
            _home.Set("PATH", Environment.GetEnvironmentVariable("PATH") + ":/opt/elsewhere/bin");
            try { return Problems(); }
            finally { _home.Set("PATH", Environment.GetEnvironmentVariable("PATH")); }
        }
    }

    [Fact]
    public void Status_and_schedule_work_from_a_working_directory_that_was_deleted()
    {
        // .NET looks for a bare command (crontab, sh) in the current directory first, and getcwd fails when it is gone.
        _home.WriteShopPipeline("nightly", extraTop: "schedule:\n  cron: \"30 2 * * *\"\n");
        var install = CliProcess.RunFromRemovedDirectory(_home, "schedule", "install", "-o", "json");
        Assert.True(install.ExitCode == 0, install.ToString());
        Assert.Equal(["nightly"], Json.Parse(install)["entries"]!.AsArray().Select(e => e.Str("pipeline")));
        var list = CliProcess.RunFromRemovedDirectory(_home, "schedule", "list", "-o", "json");
        Assert.True(list.ExitCode == 0, list.ToString());
        var status = CliProcess.RunFromRemovedDirectory(_home, "status", "-o", "json");
        Assert.True(status.ExitCode == 0, status.ToString());
        var row = Json.Parse(status).AsArray().Single()!;
        Assert.Equal(("30 2 * * *", null), (row.Str("installed_schedule"), row["schedule_problem"]?.GetValue<string>()));

        // A crontab command that cannot be run is the status row's problem, not an error of the command.
        _home.Set("DATASPOC_PIPE_CRONTAB", "no-such-crontab-command");
        var missing = CliProcess.RunFromRemovedDirectory(_home, "status", "-o", "json");
        Assert.True(missing.ExitCode == 0, missing.ToString());
        Assert.StartsWith("whether cron runs it is unknown: the crontab could not be read: cannot run 'no-such-crontab-command': no such command on PATH ",
            Json.Parse(missing).AsArray().Single()!.Str("schedule_problem"));
    }

    [Fact]
    public void Status_does_not_wait_for_a_crontab_command_that_never_answers()
    {
        _home.WriteShopPipeline("nightly", extraTop: "schedule:\n  cron: \"30 2 * * *\"\n");
        var hung = Path.Combine(_home.Root, "hung-crontab.sh");
        File.WriteAllText(hung, "#!/bin/sh\nsleep 60\n");
        File.SetUnixFileMode(hung, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _home.Set("DATASPOC_PIPE_CRONTAB", hung);

        // It waited for `crontab -l` as long as it took (forever, for a hung NSS lookup or cron daemon).
        var waited = System.Diagnostics.Stopwatch.StartNew();
        var status = CliProcess.Run(_home, "status", "-o", "json");
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.True(waited.Elapsed < TimeSpan.FromSeconds(50), $"status took {waited.Elapsed}");
        Assert.Equal($"whether cron runs it is unknown: the crontab could not be read: '{hung} -l' did not answer within 5 s",
            Json.Parse(status).AsArray().Single()!.Str("schedule_problem"));
    }

    [Fact]
    public void Schedule_without_a_subcommand_shows_its_help_and_is_a_usage_error()
    {
        var result = CliProcess.Run(_home, "schedule");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("install", result.Stdout);
        Assert.Equal(2, CliProcess.Run(_home, "schedule", "bogus").ExitCode);
    }

    [Fact]
    public void Install_with_an_invalid_pipeline_fails_before_touching_the_crontab()
    {
        File.WriteAllText(_home.CrontabFile, OthersLines);
        _home.WriteShopPipeline("bad", extraTop: "schedule:\n  cron: \"every hour\"\n");
        var result = CliProcess.Run(_home, "schedule", "install");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("schedule.cron: invalid cron expression 'every hour'", result.Stderr);
        Assert.Equal(OthersLines, File.ReadAllText(_home.CrontabFile));
    }

    [Fact]
    public void The_installed_line_runs_the_pipeline_through_sh_and_flock()
    {
        _home.WriteShopPipeline("shop", extraTop: "schedule:\n  cron: \"0 * * * *\"\n");
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        var line = CrontabLines().Single();
        var command = line["0 * * * * ".Length..];
        void RunLine()
        {
            var psi = new System.Diagnostics.ProcessStartInfo("sh", ["-c", command]) { UseShellExecute = false };
            _home.Apply(psi.Environment);
            using var process = System.Diagnostics.Process.Start(psi)!;
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)));
            Assert.Equal(0, process.ExitCode);
        }
        RunLine();
        var output = Path.Combine(_home.Home, "logs", "shop.log");
        Assert.Contains("shop: run ", File.ReadAllText(output));
        Assert.Single(Directory.GetFiles(Path.Combine(_home.Lake, ".dataspoc", "logs", "shop")));

        // A year of runs every five minutes: the output file over 10 MiB is rotated before the next run writes to it.
        var history = "earlier runs' output\n" + new string('x', 11 * 1024 * 1024) + "\n";
        File.WriteAllText(output, history);
        RunLine();
        Assert.Equal(history, File.ReadAllText(output + ".1"));
        var fresh = File.ReadAllText(output);
        Assert.StartsWith("shop: started", fresh);
        Assert.DoesNotContain("earlier runs", fresh);
        Assert.True(fresh.Length < 10_000, $"{fresh.Length} characters");
        // Under the size, the next run appends.
        RunLine();
        Assert.Equal(2, File.ReadAllText(output).Split("shop: started").Length - 1);
        Assert.Equal(history.Length, new FileInfo(output + ".1").Length);

        // A file outside the home's logs folder is never copied or emptied (the run goes ahead, with a warning).
        var outside = Path.Combine(Path.GetTempPath(), "dsp-outside-" + Guid.NewGuid().ToString("N")[..8] + ".log");
        try
        {
            File.WriteAllText(outside, history);
            var run = CliProcess.Run(_home, "run", "shop", "--rotate-log", outside);
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Contains($"warning: --rotate-log: {outside} was not rotated: only a file in {_home.Home}/logs/", run.Stderr);
            Assert.Equal(history.Length, new FileInfo(outside).Length);
            Assert.False(File.Exists(outside + ".1"));
        }
        finally
        {
            File.Delete(outside);
        }
    }

    /// <summary>
    /// <c>validate</c> checks the private temp folder under the installing shell's <c>TMPDIR</c>; cron has none and
    /// would use <c>/tmp</c>, so install carries it on each line, as it carries the home.
    /// </summary>
    [Fact]
    public void Install_carries_the_installing_shells_TMPDIR_on_each_line_and_the_line_runs_with_it()
    {
        _home.WriteShopPipeline("shop", extraTop: MaintainSchedule);
        var temp = Path.Combine(_home.Root, "tmp"); // the TMPDIR every command of this test home has
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        var lines = CrontabLines();
        Assert.Equal(2, lines.Length);
        Assert.All(lines, line => Assert.Contains($" TMPDIR={temp} DATASPOC_PIPE_HOME={_home.Home} flock ", line));
        var list = Json.Parse(CliProcess.Run(_home, "schedule", "list", "-o", "json"))["entries"]!.AsArray();
        Assert.All(list, entry => Assert.Null(entry!["problem"]));

        // Run as cron runs it, without TMPDIR: the run's private folder is the one validate checked.
        var run = lines.Single(l => l.Contains(" run shop ", StringComparison.Ordinal));
        var privateFolder = _home.PrivateTemp;
        if (Directory.Exists(privateFolder)) Directory.Delete(privateFolder, recursive: true);
        var psi = new System.Diagnostics.ProcessStartInfo("sh", ["-c", run[(run.IndexOf(" PATH=", StringComparison.Ordinal) + 1)..]]) { UseShellExecute = false };
        _home.Apply(psi.Environment);
        psi.Environment.Remove("TMPDIR");
        using (var process = System.Diagnostics.Process.Start(psi)!)
        {
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)));
            Assert.Equal(0, process.ExitCode);
        }
        Assert.True(Directory.Exists(privateFolder), File.ReadAllText(Path.Combine(_home.Home, "logs", "shop.log")));

        // A shell without TMPDIR writes none (cron's /tmp is then what validate checked too).
        _home.Set("TMPDIR", null);
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        Assert.All(CrontabLines(), line => Assert.DoesNotContain("TMPDIR=", line, StringComparison.Ordinal));
    }

    private const string MaintainSchedule = "schedule:\n  cron: \"*/15 * * * *\"\n  maintain:\n    cron: \"0 3 * * *\"\n    expire_older_than: 2d\n    compact: true\n    target_file_mb: 64\n";

    [Fact]
    public void Install_writes_a_maintain_line_under_the_pipelines_lock_beside_its_run_line_and_remove_removes_both()
    {
        File.WriteAllText(_home.CrontabFile, OthersLines);
        _home.WriteShopPipeline("orders", extraTop: MaintainSchedule);
        // schedule.maintain alone (no schedule.cron): maintained, never run by cron.
        _home.WriteShopPipeline("archive", extraTop: "schedule:\n  maintain:\n    cron: \"@weekly\"\n");

        var install = CliProcess.Run(_home, "schedule", "install", "-o", "json");
        Assert.True(install.ExitCode == 0, install.ToString());
        var entries = Json.Parse(install)["entries"]!.AsArray();
        Assert.Equal([("archive", "maintain", "@weekly"), ("orders", "run", "*/15 * * * *"), ("orders", "maintain", "0 3 * * *")],
            entries.Select(e => (e.Str("pipeline"), e.Str("kind"), e.Str("cron"))));
        Assert.All(entries, e => Assert.Null(e!["problem"]));

        var lines = CrontabLines();
        Assert.Equal(5, lines.Length);
        Assert.Equal(OthersLines.TrimEnd('\n').Split('\n'), lines[..2]);
        var (run, maintain) = (lines[3], lines[4]);
        Assert.StartsWith("*/15 * * * * PATH=", run);
        Assert.EndsWith($"# dataspoc-pipe:orders@{_home.Home}", run);
        // Same lock file and log as the run line: a maintain and a run never overlap (a run skips, a maintain waits).
        Assert.StartsWith("0 3 * * * PATH=", maintain);
        Assert.Contains($"DATASPOC_PIPE_HOME={_home.Home} flock -w 3600 -E 75 {_home.Home}/logs/orders.lock ", maintain);
        Assert.Contains($" maintain orders --expire-older-than 2d --compact --target-file-mb 64 --rotate-log {_home.Home}/logs/orders.log >> {_home.Home}/logs/orders.log 2>&1 || {{ [ $? -eq 75 ] && date -u '+orders: maintain skipped \\%Y-\\%m-\\%d \\%H:\\%M:\\%SZ: the lock {_home.Home}/logs/orders.lock stayed held for 3600 s (a run of the pipeline still going)' >> {_home.Home}/logs/orders.log ; }} # dataspoc-pipe-maintain:orders@{_home.Home}", maintain);
        Assert.Contains(" maintain archive --expire-older-than 7d --rotate-log ", lines[2]);
        Assert.EndsWith($"# dataspoc-pipe-maintain:archive@{_home.Home}", lines[2]);

        // Idempotent.
        var before = File.ReadAllText(_home.CrontabFile);
        Assert.False(Json.Parse(CliProcess.Run(_home, "schedule", "install", "-o", "json")).Bool("changed"));
        Assert.Equal(before, File.ReadAllText(_home.CrontabFile));

        // list: a kind column; status: the run schedule's next run, and the maintain's beside it.
        var table = CliProcess.Run(_home, "schedule", "list");
        Assert.Matches(@"│ orders\s+│ maintain\s+│ 0 3 \* \* \*\s+│", table.Stdout);
        Assert.Matches(@"│ orders\s+│ run\s+│ \*/15 \* \* \* \*\s+│", table.Stdout);
        var listed = Json.Parse(CliProcess.Run(_home, "schedule", "list", "-o", "json"))["entries"]!.AsArray()
            .ToDictionary(e => (e.Str("pipeline"), e.Str("kind")), e => e.Str("next_run"));
        var rows = Json.Parse(CliProcess.Run(_home, "status", "-o", "json")).AsArray().ToDictionary(r => r.Str("pipeline"), r => r!);
        var orders = rows["orders"];
        Assert.Equal((listed[("orders", "run")], listed[("orders", "maintain")]), (orders.Str("next_run"), orders.Str("next_maintain")));
        Assert.Equal(("0 3 * * *", null, null), (orders.Str("maintain_schedule"), orders["maintain_problem"]?.GetValue<string>(), orders["schedule_problem"]?.GetValue<string>()));
        Assert.Equal(3, TimeZoneInfo.ConvertTime(DateTimeOffset.Parse(orders.Str("next_maintain")), TimeZoneInfo.FindSystemTimeZoneById(orders.Str("schedule_time_zone"))).Hour);
        Assert.Null(rows["archive"]["next_run"]);
        Assert.NotNull(rows["archive"]["next_maintain"]);

        // schedule.maintain edited: install rewrites the maintain line in place; status says so until then.
        _home.WriteShopPipeline("orders", extraTop: MaintainSchedule.Replace("2d", "12h", StringComparison.Ordinal));
        Assert.Equal("the crontab runs maintain with '--expire-older-than 2d --compact --target-file-mb 64', not with " +
            "'--expire-older-than 12h --compact --target-file-mb 64' as schedule.maintain says (run: dataspoc-pipe schedule install)",
            Json.Parse(CliProcess.Run(_home, "status", "-o", "json")).AsArray().Single(r => r.Str("pipeline") == "orders")!.Str("maintain_problem"));
        Assert.True(Json.Parse(CliProcess.Run(_home, "schedule", "install", "-o", "json")).Bool("changed"));
        Assert.Equal(maintain.Replace("--expire-older-than 2d", "--expire-older-than 12h", StringComparison.Ordinal), CrontabLines()[4]);

        // schedule.maintain dropped: its line goes, the run line stays.
        _home.WriteShopPipeline("orders", extraTop: "schedule:\n  cron: \"*/15 * * * *\"\n");
        var reinstall = Json.Parse(CliProcess.Run(_home, "schedule", "install", "-o", "json"));
        Assert.Equal(["orders (maintain)"], reinstall["removed"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal([.. OthersLines.TrimEnd('\n').Split('\n'), lines[2], run], CrontabLines());

        // remove <name> removes every line of the pipeline.
        _home.WriteShopPipeline("orders", extraTop: MaintainSchedule);
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        var removed = Json.Parse(CliProcess.Run(_home, "schedule", "remove", "orders", "-o", "json"));
        Assert.Equal(["orders", "orders (maintain)"], removed["removed"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal([.. OthersLines.TrimEnd('\n').Split('\n'), lines[2]], CrontabLines());
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "remove").ExitCode);
        Assert.Equal(OthersLines, File.ReadAllText(_home.CrontabFile));
    }

    [Fact]
    public void Status_shows_a_maintain_schedule_as_a_row_of_its_own_with_its_next_time_and_zone()
    {
        File.WriteAllText(_home.CrontabFile, OthersLines);
        _home.WriteShopPipeline("orders", extraTop: MaintainSchedule);
        // schedule.maintain alone: the pipeline's only schedule.
        _home.WriteShopPipeline("archive", extraTop: "schedule:\n  maintain:\n    cron: \"@weekly\"\n");
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        // orders' maintain line read in another zone than the rest: its own zone is named.
        var lines = CrontabLines().ToList();
        lines.Insert(lines.FindIndex(l => l.EndsWith($"# dataspoc-pipe-maintain:orders@{_home.Home}", StringComparison.Ordinal)), "CRON_TZ=Pacific/Kiritimati");
        File.WriteAllText(_home.CrontabFile, string.Join('\n', lines) + "\n");

        var rows = Json.Parse(CliProcess.Run(_home, "status", "-o", "json")).AsArray().ToDictionary(r => r.Str("pipeline"), r => r!);
        var machine = rows["orders"].Str("schedule_time_zone");
        Assert.NotEqual("Pacific/Kiritimati", machine);
        Assert.Equal(("Pacific/Kiritimati", machine), (rows["orders"].Str("maintain_time_zone"), rows["archive"].Str("maintain_time_zone")));
        Assert.Equal(3, TimeZoneInfo.ConvertTime(DateTimeOffset.Parse(rows["orders"].Str("next_maintain")), TimeZoneInfo.FindSystemTimeZoneById("Pacific/Kiritimati")).Hour);
        static string Shown(JsonNode row, string key) => DateTimeOffset.Parse(row.Str(key)).UtcDateTime.ToString("yyyy-MM-dd HH:mm'Z'", CultureInfo.InvariantCulture);

        var status = CliProcess.Run(_home, "status");
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Matches($@"│ archive\s+│ never run\s+│ -\s+│ -\s+│ -\s+│ -\s+│ -\s+│\n│ archive \(maintain\)\s+│\s+│\s+│\s+│\s+│ @weekly\s+│ {Shown(rows["archive"], "next_maintain")}\s+│", status.Stdout);
        Assert.Matches($@"│ orders\s+│ never run\s+│ -\s+│ -\s+│ -\s+│ \*/15 \* \* \* \*\s+│ {Shown(rows["orders"], "next_run")}\s+│\n│ orders \(maintain\)\s+│\s+│\s+│\s+│\s+│ 0 3 \* \* \*\s+│ {Shown(rows["orders"], "next_maintain")}\s+│", status.Stdout);
        Assert.Contains($"Schedules are read in {machine} (archive (maintain)), {machine} (orders), Pacific/Kiritimati (orders (maintain)); times are UTC.",
            status.Stdout.ReplaceLineEndings(" "));
    }

    [Fact]
    public void The_installed_maintain_line_run_through_sh_and_flock_compacts_and_expires_a_real_iceberg_table()
    {
        _home.WritePipeline("shop", $"""
            source:
              tap: {CliProcess.ShopTap}
            destination:
              bucket: {_home.Bucket}
              path: raw
              table_format: iceberg
            incremental:
              enabled: true
            schedule:
              cron: "0 * * * *"
              maintain:
                cron: "0 3 * * *"
                expire_older_than: 1ms
                compact: true
            """);
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        var maintain = CrontabLines().Single(l => l.Contains("# dataspoc-pipe-maintain:shop@", StringComparison.Ordinal));
        var command = maintain["0 3 * * * ".Length..];
        // Three appends: three small files per table, each kept by its snapshot.
        for (var i = 0; i < 3; i++)
        {
            var run = CliProcess.Run(_home, "run", "shop");
            Assert.True(run.ExitCode == 0, run.ToString());
        }
        var orders = Path.Combine(_home.Lake, "raw", "shop_tap", "orders");
        Assert.Equal(3, Directory.GetFiles(orders, "*.parquet", SearchOption.AllDirectories).Length);

        // A run holds the pipeline's lock when the maintain is due (a daily maintain falls on a minute a frequent run
        // fires at too): the maintain waits for it. With `flock -n` it skipped, silently, day after day.
        var lockFile = Path.Combine(_home.Home, "logs", "shop.lock");
        using var holder = HoldLock(lockFile, seconds: 3);
        var psi = new System.Diagnostics.ProcessStartInfo("sh", ["-c", command]) { UseShellExecute = false };
        _home.Apply(psi.Environment);
        using (var process = System.Diagnostics.Process.Start(psi)!)
        {
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)));
            Assert.Equal(0, process.ExitCode);
        }
        Assert.True(holder.HasExited, "the maintain ran while the run held the lock");

        // Compacted into one file, the three it replaced expired and deleted; every row is still there.
        Assert.Single(Directory.GetFiles(orders, "*.parquet", SearchOption.AllDirectories));
        Assert.Equal(15L, Convert.ToInt64(LakeReader.Query($"SELECT count(*) FROM read_parquet('{orders}/**/*.parquet')").Single()[0]));
        var log = File.ReadAllText(Path.Combine(_home.Home, "logs", "shop.log"));
        Assert.StartsWith("shop: maintain started ", log);
        Assert.Contains("compacted files", log);
    }

    /// <summary>
    /// A firing due while the previous run still holds the pipeline's lock skips (<c>flock -n</c>); the line dates the skip in
    /// the pipeline's log, where the skipped run's output would be, and a run failing on its own is not taken for a skip.
    /// </summary>
    [Fact]
    public void A_run_line_that_finds_the_lock_held_logs_the_skip_dated_in_the_pipelines_log()
    {
        _home.WriteShopPipeline("shop", extraTop: "schedule:\n  cron: \"0 * * * *\"\n");
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        // As cron runs it: the rest of the line after the schedule, with its escaped '%' (date's format) made '%' again.
        var command = CrontabLines().Single()["0 * * * * ".Length..].Replace("\\%", "%", StringComparison.Ordinal);
        var lockFile = Path.Combine(_home.Home, "logs", "shop.lock");
        var log = Path.Combine(_home.Home, "logs", "shop.log");
        using var holder = HoldLock(lockFile, seconds: 30);
        try
        {
            var psi = new System.Diagnostics.ProcessStartInfo("sh", ["-c", command]) { UseShellExecute = false };
            _home.Apply(psi.Environment);
            var before = DateTimeOffset.UtcNow;
            using (var process = System.Diagnostics.Process.Start(psi)!)
                Assert.True(process.WaitForExit(TimeSpan.FromMinutes(1)));
            var line = Assert.Single(File.ReadAllLines(log));
            Assert.Matches($"^shop: skipped \\d{{4}}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ: the lock {System.Text.RegularExpressions.Regex.Escape(lockFile)} is held ", line);
            var when = DateTimeOffset.Parse(line["shop: skipped ".Length..("shop: skipped ".Length + 20)], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(when >= before.AddSeconds(-1) && when <= DateTimeOffset.UtcNow.AddSeconds(1), line);
        }
        finally
        {
            // flock's child (the sleep) holds the lock too.
            holder.Kill(entireProcessTree: true);
            holder.WaitForExit();
        }

        // A run that fails on its own (here: its bucket is a file) is its output only, not a skip.
        File.Delete(log);
        if (Directory.Exists(_home.Lake)) Directory.Delete(_home.Lake, recursive: true);
        File.WriteAllText(_home.Lake, "not a folder");
        var failing = new System.Diagnostics.ProcessStartInfo("sh", ["-c", command]) { UseShellExecute = false };
        _home.Apply(failing.Environment);
        using (var process = System.Diagnostics.Process.Start(failing)!)
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)));
        Assert.DoesNotContain("skipped", File.ReadAllText(log));
        Assert.StartsWith("shop: started ", File.ReadAllText(log));
    }

    /// <summary>
    /// A stand-in run: <c>flock</c> holding <paramref name="lockFile"/> for <paramref name="seconds"/>, returned once it holds
    /// it (kill its process tree to end it early: flock's child, the sleep, holds the lock too).
    /// </summary>
    private static System.Diagnostics.Process HoldLock(string lockFile, int seconds)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(lockFile)!);
        var holder = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("flock", [lockFile, "sleep", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        var held = System.Diagnostics.Stopwatch.StartNew();
        while (FlockFree(lockFile))
        {
            Assert.True(held.Elapsed < TimeSpan.FromSeconds(10), "the stand-in run never took the lock");
            Thread.Sleep(20);
        }
        return holder;
    }

    /// <summary>Whether nobody holds <paramref name="lockFile"/> (<c>flock -n</c> takes it and lets go at once).</summary>
    private static bool FlockFree(string lockFile)
    {
        using var probe = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("flock", ["-n", lockFile, "true"]) { UseShellExecute = false })!;
        probe.WaitForExit();
        return probe.ExitCode == 0;
    }

    [Fact]
    public void A_maintain_line_added_by_hand_is_kept_and_install_writes_no_second_one()
    {
        // README's earlier recipe: a maintain line the user added with crontab -e.
        var byHand = $"0 3 * * * DATASPOC_PIPE_HOME={_home.Home} flock -n {_home.Home}/logs/orders.lock dataspoc-pipe maintain orders --expire-older-than 7d --compact >> {_home.Home}/logs/orders.log 2>&1";
        File.WriteAllText(_home.CrontabFile, OthersLines + byHand + "\n");
        _home.WriteShopPipeline("orders", extraTop: MaintainSchedule);

        var install = CliProcess.Run(_home, "schedule", "install", "-o", "json");
        Assert.True(install.ExitCode == 0, install.ToString());
        const string warning = "pipeline 'orders': schedule.maintain is not installed: the crontab already runs 'maintain orders' on a line schedule install did not write, " +
            "which is kept as it is; to have schedule.maintain's line instead, remove that line (crontab -e) and run schedule install again";
        Assert.Contains("warning: " + warning, install.Stderr);
        var doc = Json.Parse(install);
        var w = doc["warnings"]!.AsArray().Single()!;
        Assert.Equal(("orders", null, "schedule.maintain", warning), (w.Str("pipeline"), w["variable"]?.GetValue<string>(), w.Str("key"), w.Str("message")));
        Assert.Equal([("orders", "run")], doc["entries"]!.AsArray().Select(e => (e.Str("pipeline"), e.Str("kind"))));
        var lines = CrontabLines();
        Assert.Equal(4, lines.Length);
        Assert.Equal(byHand, lines[2]);
        Assert.EndsWith($"# dataspoc-pipe:orders@{_home.Home}", lines[3]);
        Assert.Equal("schedule.maintain is not installed: a crontab line schedule install did not write runs its maintain, and is kept " +
            "(remove that line with crontab -e, then run: dataspoc-pipe schedule install)",
            Json.Parse(CliProcess.Run(_home, "status", "-o", "json")).AsArray().Single()!.Str("maintain_problem"));

        // remove leaves it too; once the user deletes it, install writes the tagged line.
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "remove").ExitCode);
        Assert.Equal(OthersLines + byHand + "\n", File.ReadAllText(_home.CrontabFile));
        File.WriteAllText(_home.CrontabFile, OthersLines);
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        Assert.Single(CrontabLines(), l => l.EndsWith($"# dataspoc-pipe-maintain:orders@{_home.Home}", StringComparison.Ordinal));
    }

    [Fact]
    public void Schedule_list_shows_run_and_maintain_lines_written_by_hand_marked_so_and_install_and_remove_leave_them()
    {
        var byHand = $"0 3 * * * DATASPOC_PIPE_HOME={_home.Home} flock -n {_home.Home}/logs/orders.lock dataspoc-pipe maintain orders --expire-older-than 7d >> {_home.Home}/logs/orders.log 2>&1";
        var runByHand = $"30 1 * * * export DATASPOC_PIPE_HOME={_home.Home}; dataspoc-pipe run users >> {_home.Home}/logs/users.log 2>&1";
        File.WriteAllText(_home.CrontabFile, OthersLines + byHand + "\n" + runByHand + "\n");
        _home.WriteShopPipeline("orders", extraTop: "schedule:\n  cron: \"*/15 * * * *\"\n");
        _home.WriteShopPipeline("users");
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);

        var entries = Json.Parse(CliProcess.Run(_home, "schedule", "list", "-o", "json"))["entries"]!.AsArray();
        Assert.Equal([("orders", "run", "*/15 * * * *", "install"), ("orders", "maintain", "0 3 * * *", "hand"), ("users", "run", "30 1 * * *", "hand")],
            entries.Select(e => (e.Str("pipeline"), e.Str("kind"), e.Str("cron"), e.Str("written_by"))));
        Assert.Equal([byHand, runByHand], entries.Skip(1).Select(e => e.Str("line")));
        Assert.All(entries, e => Assert.NotNull(e!["next_run"]));
        // The user's own lines are not install's to compare with the line it writes.
        Assert.All(entries.Skip(1), e => Assert.Null(e!["problem"]));
        var table = CliProcess.Run(_home, "schedule", "list");
        Assert.Matches(@"│ orders\s+│ run\s+│ \*/15 \* \* \* \*\s+│ .+│ install\s+│", table.Stdout);
        Assert.Matches(@"│ orders\s+│ maintain\s+│ 0 3 \* \* \*\s+│ .+│ hand\s+│", table.Stdout);
        Assert.Matches(@"│ users\s+│ run\s+│ 30 1 \* \* \*\s+│ .+│ hand\s+│", table.Stdout);
        Assert.DoesNotContain("!", table.Stdout);

        // remove takes install's line only; the hand-written ones stay, in the crontab and in the list.
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "remove").ExitCode);
        Assert.Equal(OthersLines + byHand + "\n" + runByHand + "\n", File.ReadAllText(_home.CrontabFile));
        Assert.Equal([("orders", "maintain", "hand"), ("users", "run", "hand")],
            Json.Parse(CliProcess.Run(_home, "schedule", "list", "-o", "json"))["entries"]!.AsArray().Select(e => (e.Str("pipeline"), e.Str("kind"), e.Str("written_by"))));
    }

    [Theory]
    [InlineData("{home}/logs/orders.lock dataspoc-pipe run orders")]
    [InlineData("{home}/logs/orders.lock dataspoc-pipe run orders; dataspoc-pipe run users")]
    [InlineData("{home}/logs/orders.lock dataspoc-pipe run orders && dataspoc-pipe run users")]
    public void A_run_line_added_by_hand_is_kept_install_writes_no_second_one_and_status_shows_its_schedule(string command)
    {
        var byHand = $"0 * * * * export DATASPOC_PIPE_HOME={_home.Home}; flock -n " + command.Replace("{home}", _home.Home, StringComparison.Ordinal) +
            $" >> {_home.Home}/logs/runs.log 2>&1";
        File.WriteAllText(_home.CrontabFile, OthersLines + byHand + "\n");
        _home.WriteShopPipeline("orders", extraTop: "schedule:\n  cron: \"0 * * * *\"\n");
        var both = command.Contains("users", StringComparison.Ordinal);
        if (both) _home.WriteShopPipeline("users", extraTop: "schedule:\n  cron: \"0 * * * *\"\n");

        var install = CliProcess.Run(_home, "schedule", "install", "-o", "json");
        Assert.True(install.ExitCode == 0, install.ToString());
        const string warning = "pipeline 'orders': schedule.cron is not installed: the crontab already runs 'run orders' on a line schedule install did not write, " +
            "which is kept as it is; to have schedule.cron's line instead, remove that line (crontab -e) and run schedule install again";
        Assert.Contains("warning: " + warning, install.Stderr);
        var warnings = Json.Parse(install)["warnings"]!.AsArray();
        Assert.Equal(both ? ["orders", "users"] : ["orders"], warnings.Select(w => w.Str("pipeline")));
        Assert.All(warnings, w => Assert.Equal("schedule.cron", w.Str("key")));
        Assert.Equal(OthersLines + byHand + "\n", File.ReadAllText(_home.CrontabFile));

        var rows = Json.Parse(CliProcess.Run(_home, "status", "-o", "json")).AsArray();
        Assert.Equal(both ? 2 : 1, rows.Count);
        Assert.All(rows, row =>
        {
            Assert.Equal("0 * * * *", row!.Str("installed_schedule"));
            Assert.NotNull(row!["next_run"]);
            Assert.Null(row!["schedule_problem"]);
        });

        // Once the user deletes it, install writes the tagged line.
        File.WriteAllText(_home.CrontabFile, OthersLines);
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);
        Assert.Single(CrontabLines(), l => l.EndsWith($"# dataspoc-pipe:orders@{_home.Home}", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("; ")]
    [InlineData(" && ")]
    public void A_line_added_by_hand_that_maintains_two_pipelines_is_kept_for_both(string separator)
    {
        var byHand = $"0 3 * * * export DATASPOC_PIPE_HOME={_home.Home}; dataspoc-pipe maintain orders --expire-older-than 7d{separator}" +
            $"dataspoc-pipe maintain --compact users >> {_home.Home}/logs/maintain.log 2>&1";
        File.WriteAllText(_home.CrontabFile, OthersLines + byHand + "\n");
        _home.WriteShopPipeline("orders", extraTop: MaintainSchedule);
        _home.WriteShopPipeline("users", extraTop: MaintainSchedule);

        var install = CliProcess.Run(_home, "schedule", "install", "-o", "json");
        Assert.True(install.ExitCode == 0, install.ToString());
        Assert.Equal(["orders", "users"], Json.Parse(install)["warnings"]!.AsArray().Select(w => w.Str("pipeline")));
        var lines = CrontabLines();
        Assert.Equal(byHand, lines[2]);
        Assert.DoesNotContain(lines, l => l.Contains("# dataspoc-pipe-maintain:", StringComparison.Ordinal));
        Assert.All(Json.Parse(CliProcess.Run(_home, "status", "-o", "json")).AsArray(),
            row => Assert.StartsWith("schedule.maintain is not installed: a crontab line schedule install did not write runs its maintain", row!.Str("maintain_problem")));
    }

    [Theory]
    [InlineData("    cron: \"0 3 * * *\"\n    expire: 7d\n", 11, "schedule.maintain.expire", "unknown key (allowed here: cron, expire_older_than, compact, target_file_mb)")]
    [InlineData("    cron: \"0 3 31 2 L\"\n", 10, "schedule.maintain.cron", "invalid cron expression '0 3 31 2 L'")]
    [InlineData("    cron: \"0 3 * * *\"\n    target_file_mb: 64\n", 11, "schedule.maintain.target_file_mb", "sizes the files compaction writes: add compact: true")]
    [InlineData("    cron: \"0 3 * * *\"\n    expire_older_than: a week\n", 11, "schedule.maintain.expire_older_than", "expected a duration")]
    [InlineData("    compact: true\n", 10, "schedule.maintain.cron", "is required")]
    public void A_bad_maintain_schedule_is_an_error_naming_file_line_and_key_and_install_leaves_the_crontab_alone(string maintain, int line, string key, string reason)
    {
        File.WriteAllText(_home.CrontabFile, OthersLines);
        var file = _home.WriteShopPipeline("orders", extraTop: "schedule:\n  maintain:\n" + maintain);
        var result = CliProcess.Run(_home, "schedule", "install");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"{file}:{line}: {key}: {reason}", result.Stderr);
        Assert.Equal(OthersLines, File.ReadAllText(_home.CrontabFile));
    }

    [Fact]
    public void Install_refuses_a_control_character_in_a_maintain_line_and_warns_of_the_variables_its_maintain_would_lack()
    {
        File.WriteAllText(_home.CrontabFile, OthersLines);
        _home.WritePipeline("orders", $$"""
            source:
              tap: {{CliProcess.ShopTap}}
              config: {api_token: "${SHOP_TOKEN}"}
            destination:
              bucket: {{_home.Bucket}}
            schedule:
              maintain:
                cron: "0 3 * * *"
            """);
        _home.Set("SHOP_TOKEN", "only-in-this-shell");
        var install = CliProcess.Run(_home, "schedule", "install");
        Assert.True(install.ExitCode == 0, install.ToString());
        Assert.Contains("warning: pipeline 'orders': ${SHOP_TOKEN} (", install.Stderr);

        File.WriteAllText(_home.CrontabFile, OthersLines);
        var path = Environment.GetEnvironmentVariable("PATH") + ":/opt/bin\n* * * * * touch /tmp/PWNED #";
        _home.Set("PATH", path);
        var refused = CliProcess.Run(_home, "schedule", "install");
        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Contains("control character", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(OthersLines, File.ReadAllText(_home.CrontabFile));
    }
}

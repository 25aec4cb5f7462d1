using DataSpoc.Pipe.Scheduling;

namespace DataSpoc.Pipe.Tests.Scheduling;

/// <summary>
/// A run or maintain line the user wrote into the crontab (README's earlier recipe) is found in every shape a shell runs
/// alike, so <c>schedule install</c> keeps it and writes no second one (the pipeline would be run or maintained twice).
/// </summary>
public sealed class HandWrittenLineTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("dsp-home-").FullName;

    public void Dispose() => Directory.Delete(_home, recursive: true);

    private IReadOnlySet<string> Found(string line, string? home = null) =>
        CrontabEntries.HandWrittenPipelines("SHELL=/bin/sh\n" + line + "\n", home ?? _home, ScheduleKind.Maintain);

    [Theory]
    [InlineData("0 3 * * * DATASPOC_PIPE_HOME={home} dataspoc-pipe maintain orders --expire-older-than 7d")]
    [InlineData("0 3 * * * DATASPOC_PIPE_HOME={home} /usr/local/bin/dataspoc-pipe maintain --expire-older-than 7d --compact orders >> /tmp/m.log 2>&1")]
    [InlineData("0 3 * * * DATASPOC_PIPE_HOME={home} dataspoc-pipe maintain --target-file-mb=64 --compact -o json orders")]
    [InlineData("0 3 * * * export DATASPOC_PIPE_HOME={home}; dataspoc-pipe maintain orders")]
    [InlineData("0 3 * * * export DATASPOC_PIPE_HOME='{home}' ; flock -w 60 /tmp/x.lock dataspoc-pipe maintain orders")]
    [InlineData("@daily cd /tmp && DATASPOC_PIPE_HOME=\"{home}\" dotnet /opt/dsp/dataspoc-pipe.dll maintain orders \\% true")]
    public void A_maintain_line_of_this_home_is_found_whatever_its_shape(string line) =>
        Assert.Equal(["orders"], Found(line.Replace("{home}", _home, StringComparison.Ordinal)));

    [Theory]
    [InlineData("0 3 * * * DATASPOC_PIPE_HOME={home} dataspoc-pipe maintain orders; DATASPOC_PIPE_HOME={home} dataspoc-pipe maintain users")]
    [InlineData("0 3 * * * export DATASPOC_PIPE_HOME={home}; dataspoc-pipe maintain orders --expire-older-than 7d && dataspoc-pipe maintain --compact users >> /tmp/m.log 2>&1")]
    [InlineData("0 3 * * * export DATASPOC_PIPE_HOME={home}; dataspoc-pipe maintain orders&& dataspoc-pipe maintain users")]
    [InlineData("0 3 * * * export DATASPOC_PIPE_HOME={home}; dataspoc-pipe maintain orders || true; /opt/bin/dataspoc-pipe maintain users")]
    public void Every_pipeline_a_line_of_several_commands_maintains_is_found(string line) =>
        Assert.Equal(["orders", "users"], Found(line.Replace("{home}", _home, StringComparison.Ordinal)).Order());

    [Fact]
    public void A_command_without_a_name_does_not_take_the_next_commands_words_for_one() =>
        Assert.Equal(["users"], Found($"0 3 * * * export DATASPOC_PIPE_HOME={_home}; dataspoc-pipe maintain --compact; dataspoc-pipe maintain users"));

    [Theory]
    [InlineData("$HOME/.dataspoc-pipe")]
    [InlineData("${HOME}/.dataspoc-pipe")]
    [InlineData("~/.dataspoc-pipe")]
    public void A_home_written_from_the_users_home_is_read_as_the_shell_reads_it(string written)
    {
        var home = Path.Combine(Environment.GetEnvironmentVariable("HOME")!, ".dataspoc-pipe");
        Assert.Equal(["orders"], Found($"0 3 * * * DATASPOC_PIPE_HOME={written} dataspoc-pipe maintain orders", home));
        Assert.Empty(Found($"0 3 * * * DATASPOC_PIPE_HOME={written} dataspoc-pipe maintain orders"));
    }

    [Theory]
    [InlineData("0 3 * * * DATASPOC_PIPE_HOME=/elsewhere dataspoc-pipe maintain orders")]
    [InlineData("# 0 3 * * * DATASPOC_PIPE_HOME={home} dataspoc-pipe maintain orders")]
    [InlineData("0 3 * * * DATASPOC_PIPE_HOME={home} dataspoc-pipe run orders --maintain")]
    [InlineData("0 3 * * * DATASPOC_PIPE_HOME={home} dataspoc-pipe maintain --expire-older-than 7d >> /tmp/m.log")]
    [InlineData("0 3 * * * DATASPOC_PIPE_HOME={home} other-tool maintain orders")]
    public void Another_homes_line_a_comment_a_run_or_a_line_without_a_name_is_not_one(string line) =>
        Assert.Empty(Found(line.Replace("{home}", _home, StringComparison.Ordinal)));

    [Theory]
    [InlineData("*/5 * * * * DATASPOC_PIPE_HOME={home} dataspoc-pipe run orders", "*/5 * * * *", new[] { "orders" })]
    [InlineData("0 * * * * export DATASPOC_PIPE_HOME={home}; flock -n /tmp/o.lock /usr/local/bin/dataspoc-pipe run --rotate-log /tmp/o.log orders >> /tmp/o.log 2>&1", "0 * * * *", new[] { "orders" })]
    [InlineData("@hourly DATASPOC_PIPE_HOME={home} dataspoc-pipe run orders; DATASPOC_PIPE_HOME={home} dataspoc-pipe run users", "@hourly", new[] { "orders", "users" })]
    [InlineData("0 1 * * * export DATASPOC_PIPE_HOME={home}; dataspoc-pipe run orders&& dataspoc-pipe run --full users", "0 1 * * *", new[] { "orders", "users" })]
    public void A_run_line_of_this_home_is_found_by_the_same_rules_with_its_schedule(string line, string cron, string[] pipelines)
    {
        var crontab = "SHELL=/bin/sh\nCRON_TZ=Europe/Berlin\n" + line.Replace("{home}", _home, StringComparison.Ordinal) + "\n";
        var found = CrontabEntries.HandWritten(crontab, _home);
        Assert.Equal(pipelines, found.Select(e => e.Pipeline).Order());
        Assert.All(found, e => Assert.Equal((ScheduleKind.Run, cron, "Europe/Berlin"), (e.Kind, e.Cron, e.CronTimeZone)));
        Assert.Empty(CrontabEntries.HandWrittenPipelines(crontab, _home, ScheduleKind.Maintain));
    }

    [Fact]
    public void A_line_that_runs_one_pipeline_and_maintains_another_counts_for_each_by_its_kind()
    {
        var found = CrontabEntries.HandWritten($"0 3 * * * export DATASPOC_PIPE_HOME={_home}; dataspoc-pipe run orders && dataspoc-pipe maintain users\n", _home);
        Assert.Equal([("orders", ScheduleKind.Run), ("users", ScheduleKind.Maintain)], found.Select(e => (e.Pipeline, e.Kind)));
    }

    [Theory]
    [InlineData("0 3 * * * DATASPOC_PIPE_HOME=/elsewhere dataspoc-pipe run orders")]
    [InlineData("# 0 3 * * * DATASPOC_PIPE_HOME={home} dataspoc-pipe run orders")]
    [InlineData("0 3 * * * DATASPOC_PIPE_HOME={home} dataspoc-pipe run --all")]
    [InlineData("0 3 * * * DATASPOC_PIPE_HOME={home} other-tool run orders")]
    public void Another_homes_run_line_a_comment_or_a_run_without_a_name_is_not_one(string line) =>
        Assert.Empty(CrontabEntries.HandWritten(line.Replace("{home}", _home, StringComparison.Ordinal) + "\n", _home));
}

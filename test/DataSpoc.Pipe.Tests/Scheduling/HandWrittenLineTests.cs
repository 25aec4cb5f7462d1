using DataSpoc.Pipe.Scheduling;

namespace DataSpoc.Pipe.Tests.Scheduling;

/// <summary>
/// A maintain line the user wrote into the crontab (README's earlier recipe) is found in every shape a shell runs alike,
/// so <c>schedule install</c> keeps it and writes no second one (the pipeline would be maintained twice).
/// </summary>
public sealed class HandWrittenMaintainLineTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("dsp-home-").FullName;

    public void Dispose() => Directory.Delete(_home, recursive: true);

    private IReadOnlySet<string> Found(string line, string? home = null) =>
        CrontabEntries.HandWrittenMaintainPipelines("SHELL=/bin/sh\n" + line + "\n", home ?? _home);

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
}

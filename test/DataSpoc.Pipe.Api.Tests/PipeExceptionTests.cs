using DataSpoc.Pipe.Api;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Api.Tests;

/// <summary>Every error the engine shows its user shares one base type, so a front end handles them in one place.</summary>
public sealed class PipeExceptionTests
{
    [Fact]
    public void Every_public_exception_of_the_engine_derives_from_PipeException()
    {
        var exceptions = typeof(PipeClient).Assembly.GetExportedTypes()
            .Where(t => typeof(Exception).IsAssignableFrom(t) && t != typeof(PipeException)).ToList();
        Assert.NotEmpty(exceptions);
        Assert.All(exceptions, t => Assert.True(typeof(PipeException).IsAssignableFrom(t), $"{t.FullName} does not derive from PipeException"));
    }

    [Fact]
    public void A_wrong_configuration_is_a_usage_error_and_a_failure_of_something_that_ran_is_not()
    {
        Assert.Equal(PipeErrorKind.Usage, new ConfigException("bad", "p.yaml", 3, "destination.bucket").Kind);
        Assert.Equal(PipeErrorKind.Usage, new TapNotFoundException("tap-x", "tap 'tap-x' was not found").Kind);
        Assert.Equal(PipeErrorKind.Failed, new StorageException("denied").Kind);
        Assert.Equal(PipeErrorKind.Failed, new Runs.TapFailedException("exit 3").Kind);
    }

    [Fact]
    public async Task Asking_for_a_run_that_is_not_there_says_which_kind_of_miss_it_is()
    {
        using var home = new TempHome();
        home.WritePipeline("idle", $"source:\n  tap: csv\n  config: {{path: /nowhere}}\ndestination:\n  bucket: {home.Bucket}\n");
        var client = new PipeClient(home.Home);
        var never = await Assert.ThrowsAsync<RunLogNotFoundException>(() => client.LogAsync("idle"));
        Assert.Equal((PipeErrorKind.Failed, "idle has not run yet (no log in " + home.Bucket + "/.dataspoc/logs/idle/)"), (never.Kind, never.Message));
        var unknown = await Assert.ThrowsAsync<RunLogNotFoundException>(() => client.LogAsync("idle", "nope1234"));
        Assert.Equal((PipeErrorKind.Usage, "idle has no run 'nope1234'"), (unknown.Kind, unknown.Message));
    }
}

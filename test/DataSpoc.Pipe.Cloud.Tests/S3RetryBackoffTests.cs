using System.Diagnostics;
using DataSpoc.Pipe.Cloud.Tests.Servers;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cloud.Tests;

/// <summary>The tests' S3 stores cap each retry's wait (see <see cref="S3Target"/>): still every retry, only sooner.</summary>
[Collection(S3rverCollection.Name)]
public sealed class S3RetryBackoffTests(CloudServers servers)
{
    [Fact]
    public async Task A_call_answered_503_throughout_is_retried_five_times_within_the_capped_back_off_and_fails_naming_it()
    {
        var target = new S3Target(servers);
        await using var proxy = new TcpFaultProxy(target.ServerPort);
        proxy.AnswerUnavailable();
        var store = target.Open(StoreTarget.NewPrefix(), proxy.Port);

        var clock = Stopwatch.StartNew();
        var failed = await Assert.ThrowsAsync<StorageException>(() => store.GetAsync("state.json", CancellationToken.None));

        Assert.Contains("503", failed.Message);
        Assert.Equal(6, proxy.UnavailableAnswers);
        // Five waits of at most 1 s each (the SDK's own cap, 20 s, waits about half a minute on average).
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"the call failed after {clock.Elapsed.TotalSeconds:0.0} s");
    }
}

using DataSpoc.Pipe.Cli.Tests.Support;
using DataSpoc.Pipe.Lake;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary><c>maintain</c> whose every table was skipped, their commit claims held: the summary says so.</summary>
public sealed class MaintainSkippedTablesTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public void Maintain_that_skipped_every_table_says_they_were_skipped_not_that_there_are_none()
    {
        _home.WritePipeline("shop", $"""
            source:
              tap: {CliProcess.ShopTap}
            destination:
              bucket: {_home.Bucket}
              path: raw
              table_format: iceberg
            """);
        var run = CliProcess.Run(_home, "run", "shop");
        Assert.True(run.ExitCode == 0, run.ToString());
        // A run of pipeline 'ghost' died holding both tables' commit claims; its journal is still there, so the claims
        // stay until ghost's next run completes or rolls back that commit.
        string[] claims = [LakePaths.TableCommitClaimKey("raw/shop_tap/customers/"), LakePaths.TableCommitClaimKey("raw/shop_tap/orders/")];
        foreach (var claim in claims)
        {
            var path = Path.Combine(_home.Lake, claim);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, LakeJson.Serialize(new SupersededClaim("ghost", "0deadbe1")));
        }
        var journal = Path.Combine(_home.Lake, LakePaths.JournalKey("ghost"));
        Directory.CreateDirectory(Path.GetDirectoryName(journal)!);
        File.WriteAllBytes(journal, new CommitPlan { RunId = "0deadbe1", Pipeline = "ghost", StartedAt = DateTimeOffset.UtcNow, TableClaims = [.. claims] }.ToJournal());

        var maintain = CliProcess.Run(_home, "maintain", "shop");

        Assert.True(maintain.ExitCode == 0, maintain.ToString());
        Assert.Contains("table shop_tap/orders was not maintained: ", maintain.Stdout);
        Assert.Contains("pipeline shop: no table was maintained: shop_tap/customers, shop_tap/orders skipped (the notes above say why); run maintain again", maintain.Stdout);
        Assert.DoesNotContain("nothing to maintain", maintain.Stdout);
    }
}

using DataSpoc.Pipe.Lake;

namespace DataSpoc.Pipe.Cloud.Tests.Runs;

/// <summary>
/// Two pipelines writing one table (same <c>source.name</c> and stream, e.g. two postgres pipelines from two
/// databases) at the same time, round after round. Both plan their file numbers from the same listing, so only
/// unique names or create-only writes keep one run's file from replacing the other's.
/// </summary>
public abstract class SharedTableContract
{
    protected abstract StoreTarget Target { get; }

    private const int Rounds = 4, RowsPerRound = 5, SecondBase = 100_000;

    [Fact]
    public async Task Two_pipelines_writing_one_table_at_once_keep_every_row_and_the_manifest_counts_them()
    {
        await using var lake = new CloudLake(Target);
        for (var round = 1; round <= Rounds; round++)
        {
            var results = await Task.WhenAll(
                lake.RunAsync(lake.Pipeline("orders-a", count: round * RowsPerRound)),
                lake.RunAsync(lake.Pipeline("orders-b", count: round * RowsPerRound, idBase: SecondBase)));
            Assert.All(results, r => Assert.True(r.Succeeded, r.Log.Error));
        }

        var parquet = (await lake.KeysAsync()).Where(k => k.EndsWith(".parquet", StringComparison.Ordinal)).ToList();
        Assert.Equal(2 * Rounds, parquet.Count);
        // Every row of both pipelines, compared value by value in id order, as DuckDB reads the files.
        var expected = CloudLake.ExpectedOrders(1, Rounds * RowsPerRound)
            .Concat(CloudLake.ExpectedOrders(SecondBase + 1, SecondBase + Rounds * RowsPerRound)).ToList();
        Assert.Equal(expected, await lake.OrdersAsync(parquet));
        var table = (await lake.ManifestAsync()).Tables["shop/orders"];
        Assert.Equal((expected.Count, 2L * Rounds), (table.RowCount, table.Stats.Files));
    }
}

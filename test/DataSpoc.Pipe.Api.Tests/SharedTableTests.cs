namespace DataSpoc.Pipe.Api.Tests;

/// <summary>
/// Two pipelines of one home that land in the same table (the same source name, stream and path: two built-in csv
/// pipelines of different folders, say). A replace by one used to delete the other's rows without a word.
/// </summary>
public class SharedTableTests
{
    private static void CsvPipeline(TempHome home, string name, string folder, string extra = "") =>
        home.WritePipeline(name, $"source:\n  tap: csv\n  config: {{path: {folder}}}\ndestination:\n  bucket: {home.Bucket}\n{extra}");

    private static string Folder(TempHome home, string name, string csv)
    {
        var folder = Path.Combine(home.Root, "inputs", name);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "orders.csv"), csv);
        return folder;
    }

    private static List<string?> Ids(TempHome home) =>
        home.Query("SELECT id FROM read_parquet('{lake}/raw/csv/orders/*/*.parquet') ORDER BY id").Select(r => r[0]).ToList();

    [Fact]
    public async Task A_replace_of_a_table_another_pipeline_of_another_source_wrote_fails_and_deletes_nothing()
    {
        using var home = new TempHome();
        var (a, b) = (home.Name("shop-a"), home.Name("shop-b"));
        CsvPipeline(home, a, Folder(home, "a", "id,v\n1,a\n2,a\n"));
        CsvPipeline(home, b, Folder(home, "b", "id,v\n10,b\n"));
        var client = new PipeClient(home.Home);
        Assert.True((await client.RunAsync(a)).Succeeded);

        var refused = await client.RunAsync(b);
        Assert.False(refused.Succeeded);
        Assert.Equal($"stream 'orders': table csv/orders ({home.Bucket}/raw/csv/orders/) was last written by pipeline '{a}', which reads another source: " +
            $"this run of '{b}' would replace the table and delete the rows '{a}' wrote. Give one of them its own table (source.name or destination.path), " +
            $"or remove '{a}' if '{b}' takes its place", refused.Log.Error);
        Assert.False(refused.Log.StateCommitted);
        Assert.Equal(["1", "2"], Ids(home));

        // 'a' gone from the home (renamed to 'b', or retired): 'b' takes the table over, and says so.
        File.Delete(Path.Combine(home.Home, "pipelines", a + ".yaml"));
        var taken = await client.RunAsync(b);
        Assert.True(taken.Succeeded, taken.Log.Error);
        Assert.Contains(taken.Log.Notices, n => n.EndsWith($"was last written by pipeline '{a}', which is not in this home: this run replaced its rows", StringComparison.Ordinal));
        Assert.Equal(["10"], Ids(home));
    }

    [Fact]
    public async Task A_full_reload_beside_an_incremental_pipeline_of_the_same_source_replaces_the_table()
    {
        using var home = new TempHome();
        var (full, incremental) = (home.Name("orders-full"), home.Name("orders-incr"));
        var folder = Folder(home, "shop", "id,v\n1,x\n2,x\n");
        CsvPipeline(home, full, folder);
        CsvPipeline(home, incremental, folder, "incremental:\n  enabled: true\n");
        var client = new PipeClient(home.Home);
        Assert.True((await client.RunAsync(incremental)).Succeeded);

        var reload = await client.RunAsync(full);
        Assert.True(reload.Succeeded, reload.Log.Error);
        Assert.Contains(reload.Log.Notices, n => n.EndsWith($"was last written by pipeline '{incremental}', which reads the same source: this run replaced its rows", StringComparison.Ordinal));
        Assert.Equal(["1", "2"], Ids(home));
    }
}

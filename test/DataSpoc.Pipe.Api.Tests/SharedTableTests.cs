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

    [Fact]
    public async Task Maintain_of_either_pipeline_landing_a_table_compacts_it_whichever_wrote_it_last()
    {
        using var home = new TempHome();
        var (a, b, other) = (home.Name("shop-a"), home.Name("shop-b"), home.Name("other"));
        CsvPipeline(home, a, Folder(home, "a", "id,v\n1,a\n2,a\n"), "incremental:\n  enabled: true\n");
        CsvPipeline(home, b, Folder(home, "b", "id,v\n10,b\n"), "incremental:\n  enabled: true\n");
        // Another source's table in the same bucket is not a's to maintain.
        home.WritePipeline(other, $"source:\n  tap: csv\n  name: elsewhere\n  config: {{path: {Folder(home, "o", "id,v\n7,o\n")}}}\ndestination:\n  bucket: {home.Bucket}\n");
        var client = new PipeClient(home.Home);
        foreach (var name in new[] { a, b, other }) Assert.True((await client.RunAsync(name)).Succeeded);
        Assert.Equal(b, (await client.ManifestAsync(home.Bucket)).Tables["csv/orders"].Pipeline);

        var result = Assert.Single(await client.MaintainAsync(a, TimeSpan.FromDays(7), compactTargetFileMb: 128));
        Assert.Equal(("csv/orders", 2, 1), (result.Table, result.CompactedFiles, result.WrittenFiles));
        Assert.Equal(["1", "2", "10"], Ids(home));
        Assert.Equal([["1"]], home.Query("SELECT count(*) FROM glob('{lake}/raw/csv/orders/*/*.parquet')"));
    }

    [Fact]
    public async Task Validate_warns_when_another_pipeline_lands_in_the_same_folder_from_another_source()
    {
        using var home = new TempHome();
        var (a, b, incremental, apart) = (home.Name("shop-a"), home.Name("shop-b"), home.Name("shop-a-incr"), home.Name("shop-c"));
        var folderA = Folder(home, "a", "id\n1\n");
        CsvPipeline(home, a, folderA);
        CsvPipeline(home, b, Folder(home, "b", "id\n2\n"));
        CsvPipeline(home, incremental, folderA, "incremental:\n  enabled: true\n");
        CsvPipeline(home, apart, Folder(home, "c", "id\n3\n"), "  path: other\n");
        var client = new PipeClient(home.Home);

        var checks = (await client.ValidateAsync(a)).Checks;
        var tables = Assert.Single(checks, c => c.Check == "tables");
        Assert.True(tables.Ok);
        Assert.True(tables.Warning);
        // 'b' reads another folder into the same one; the incremental twin of 'a' reads the same source; 'c' lands elsewhere.
        Assert.StartsWith($"'{b}' also land(s) in {home.Bucket}/raw/csv/ from another source", tables.Detail);
        Assert.DoesNotContain(checks, c => c.Check == "tables" && c.Detail.Contains(incremental, StringComparison.Ordinal));
        // 'c' lands the same source name under another path: the manifest would refuse a stream of the same name.
        Assert.Contains($"'{apart}' (other) also land(s) source 'csv' in {home.Bucket} under another path", tables.Detail);
        Assert.EndsWith("; give each its own source.name (or destination.path)", tables.Detail);
        var fromApart = Assert.Single((await client.ValidateAsync(apart)).Checks, c => c.Check == "tables");
        Assert.StartsWith($"'{a}' (raw), '{incremental}' (raw), '{b}' (raw) also land(s) source 'csv'", fromApart.Detail);
    }

    [Fact]
    public async Task One_source_and_stream_under_a_second_path_of_a_bucket_fails_and_a_moved_path_needs_a_full_refresh()
    {
        using var home = new TempHome();
        var (raw, staging) = (home.Name("orders-raw"), home.Name("orders-staging"));
        CsvPipeline(home, raw, Folder(home, "a", "id\n1\n2\n"));
        CsvPipeline(home, staging, Folder(home, "b", "id\n10\n"), "  path: staging\n");
        var client = new PipeClient(home.Home);
        Assert.True((await client.RunAsync(raw)).Succeeded);

        // The manifest names tables by source and stream: before, the second path's run took the entry over (location,
        // row count, the replace decisions) from the first.
        var refused = await client.RunAsync(staging);
        Assert.False(refused.Succeeded);
        Assert.Equal($"stream 'orders': the bucket's manifest lists table csv/orders at {home.Bucket}/raw/csv/orders (pipeline '{raw}'), and this run writes " +
            $"it at {home.Bucket}/staging/csv/orders/: the manifest names a table by source and stream, so a bucket holds a source's stream under one path only; " +
            "give this pipeline its own source.name", refused.Log.Error);
        Assert.False(Directory.Exists(Path.Combine(home.Lake, "staging")));
        var entry = (await client.ManifestAsync(home.Bucket)).Tables["csv/orders"];
        Assert.Equal(($"{home.Bucket}/raw/csv/orders", 2L), (entry.Location, entry.RowCount));

        // The same pipeline at a new path: an incremental run refuses, a full refresh moves the table there.
        CsvPipeline(home, raw, Path.Combine(home.Root, "inputs", "a"), "  path: bronze\nincremental:\n  enabled: true\n");
        File.AppendAllText(Path.Combine(home.Root, "inputs", "a", "orders.csv"), "3\n");
        var moved = await client.RunAsync(raw);
        Assert.False(moved.Succeeded);
        Assert.Contains("(destination.path changed?): a full refresh (--full) starts the table at the new path", moved.Log.Error);
        var full = await client.RunAsync(raw, full: true);
        Assert.True(full.Succeeded, full.Log.Error);
        Assert.Contains(full.Log.Notices, n => n.StartsWith($"stream 'orders': table csv/orders moves from {home.Bucket}/raw/csv/orders to {home.Bucket}/bronze/csv/orders/", StringComparison.Ordinal));
        entry = (await client.ManifestAsync(home.Bucket)).Tables["csv/orders"];
        Assert.Equal(($"{home.Bucket}/bronze/csv/orders", 3L), (entry.Location, entry.RowCount));
    }
    private static void ReplayPipeline(TempHome home, string name, string file, string writeMode) =>
        home.WritePipeline(name, $"source:\n  tap: {TempHome.ReplayTap}\n  name: shop\n  config: {{file: {file}, incremental: true}}\n" +
            $"destination:\n  bucket: {home.Bucket}\n  write_mode: {writeMode}\nincremental:\n  enabled: true\n");

    private static string Orders(TempHome home, int last) => home.WriteSinger("orders.singer",
        [@"{""type"":""SCHEMA"",""stream"":""orders"",""schema"":{""properties"":{""id"":{""type"":""integer""}}},""key_properties"":[""id""]}",
            .. Enumerable.Range(1, last).Select(id => $@"{{""type"":""RECORD"",""stream"":""orders"",""record"":{{""id"":{id}}}}}")]);

    [Fact]
    public async Task A_renamed_incremental_pipeline_refuses_to_append_every_row_again_until_its_state_is_carried_over()
    {
        // State is keyed by pipeline name and the table by source and stream: `mv orders.yaml orders_v2.yaml` made the next
        // run extract everything again into the same table, every earlier row twice, without a word.
        using var home = new TempHome();
        var (old, renamed) = (home.Name("orders"), home.Name("orders_v2"));
        ReplayPipeline(home, old, Orders(home, 3), "append");
        var client = new PipeClient(home.Home);
        Assert.True((await client.RunAsync(old)).Succeeded);
        File.Move(Path.Combine(home.Home, "pipelines", old + ".yaml"), Path.Combine(home.Home, "pipelines", renamed + ".yaml"));
        Orders(home, 5);

        var (oldState, newState) = ($"{home.Bucket}/.dataspoc/state/{old}/state.json", $"{home.Bucket}/.dataspoc/state/{renamed}/state.json");
        var problem = $"table shop/orders ({home.Bucket}/raw/shop/orders/) was last written by pipeline '{old}', which is not in this home; its state is still in the bucket " +
            $"({oldState}) and '{renamed}' has none";
        var waysOut = $"If '{renamed}' is '{old}' renamed, copy its state first (README: Renaming a pipeline): {oldState} to {newState}; " +
            "or reload the table from the source with run --full (it replaces the table's rows)";
        var validation = await client.ValidateAsync(renamed);
        var tables = Assert.Single(validation.Checks, c => c.Check == "tables");
        Assert.False(tables.Ok);
        Assert.Equal(problem.Replace("/orders/)", "/orders)", StringComparison.Ordinal) +
            ": a run would extract everything again and append every earlier row a second time. " + waysOut, tables.Detail);

        var refused = await client.RunAsync(renamed);
        Assert.False(refused.Succeeded);
        Assert.Equal($"stream 'orders': {problem}: this run would extract everything again and append every earlier row a second time. {waysOut}", refused.Log.Error);
        Assert.Equal(["1", "2", "3"], home.Query("SELECT id FROM read_parquet('{lake}/raw/shop/orders/*/*.parquet') ORDER BY id").Select(r => r[0]));

        // The documented way out: carry the state over; the renamed pipeline then appends only the new rows.
        var stateFolder = Path.Combine(home.Lake, ".dataspoc", "state");
        Directory.CreateDirectory(Path.Combine(stateFolder, renamed));
        File.Copy(Path.Combine(stateFolder, old, "state.json"), Path.Combine(stateFolder, renamed, "state.json"));
        Assert.DoesNotContain((await client.ValidateAsync(renamed)).Checks, c => c.Check == "tables");
        var carried = await client.RunAsync(renamed);
        Assert.True(carried.Succeeded, carried.Log.Error);
        Assert.Equal(2, carried.Log.TotalRecords);
        Assert.Equal(["1", "2", "3", "4", "5"], home.Query("SELECT id FROM read_parquet('{lake}/raw/shop/orders/*/*.parquet') ORDER BY id").Select(r => r[0]));
    }

    [Fact]
    public async Task Two_homes_with_a_pipeline_of_one_name_on_one_bucket_never_hand_each_other_their_state()
    {
        // State is keyed by pipeline name: home B's first run of its 'orders' (another source) was handed home A's
        // bookmark and skipped the rows up to it, silently; then A's next run was handed B's.
        using var homeA = new TempHome();
        using var homeB = new TempHome();
        var name = homeA.Name("orders");
        void Pipeline(TempHome home, string source, string file) => home.WritePipeline(name,
            $"source:\n  tap: {TempHome.ReplayTap}\n  name: {source}\n  config: {{file: {file}, incremental: true}}\n" +
            $"destination:\n  bucket: {homeA.Bucket}\nincremental:\n  enabled: true\n");
        Pipeline(homeA, "teama", Orders(homeA, 3));
        Pipeline(homeB, "teamb", Orders(homeB, 5));
        var (a, b) = (new PipeClient(homeA.Home), new PipeClient(homeB.Home));
        Assert.True((await a.RunAsync(name)).Succeeded);
        List<string?> Ids(string source) => homeA.Query($"SELECT id FROM read_parquet('{{lake}}/raw/{source}/orders/*/*.parquet') ORDER BY id").Select(r => r[0]).ToList();

        var state = $"{homeA.Bucket}/.dataspoc/state/{name}/state.json";
        var problem = $"the state of pipeline '{name}' in this bucket ({state}) was written by a pipeline '{name}' landing raw/teama/ " +
            $"({Path.Combine(homeA.Home, "pipelines", name + ".yaml")}), and this pipeline ({Path.Combine(homeB.Home, "pipelines", name + ".yaml")}) lands raw/teamb/";
        var check = Assert.Single((await b.ValidateAsync(name)).Checks, c => c.Check == "state");
        Assert.False(check.Ok);
        Assert.StartsWith(problem, check.Detail);
        var refused = await b.RunAsync(name);
        Assert.False(refused.Succeeded);
        Assert.StartsWith(problem, refused.Log.Error);
        Assert.Contains($"or run it with --full, which reads no state", refused.Log.Error);
        Assert.False(Directory.Exists(Path.Combine(homeA.Lake, "raw", "teamb")));

        // A full run reads no state: it lands every row of B's source, and the state is B's from then on.
        var full = await b.RunAsync(name, full: true);
        Assert.True(full.Succeeded, full.Log.Error);
        Assert.Contains(full.Log.Notices, n => n.StartsWith(problem, StringComparison.Ordinal));
        Assert.Equal(["1", "2", "3", "4", "5"], Ids("teamb"));
        Assert.True((await b.RunAsync(name)).Succeeded);
        // Now A's run is the one refused, instead of being handed B's bookmark (5) and skipping its rows 4 and 5.
        Orders(homeA, 5);
        var refusedA = await a.RunAsync(name);
        Assert.False(refusedA.Succeeded);
        Assert.Contains("landing raw/teamb/", refusedA.Log.Error);
        Assert.Equal(["1", "2", "3"], Ids("teama"));

        // A state without its owner file (written by an earlier build) is taken as the pipeline's own, and gets one.
        File.Delete(Path.Combine(homeA.Lake, ".dataspoc", "state", name, "owner.json"));
        Assert.True((await b.RunAsync(name)).Succeeded);
        Assert.Contains("\"source\": \"teamb\"", File.ReadAllText(Path.Combine(homeA.Lake, ".dataspoc", "state", name, "owner.json")));
    }

    [Fact]
    public async Task A_renamed_merge_pipeline_runs_with_a_notice_and_keeps_one_row_per_key()
    {
        using var home = new TempHome();
        var (old, renamed) = (home.Name("orders"), home.Name("orders_v2"));
        ReplayPipeline(home, old, Orders(home, 3), "merge");
        var client = new PipeClient(home.Home);
        Assert.True((await client.RunAsync(old)).Succeeded);
        File.Move(Path.Combine(home.Home, "pipelines", old + ".yaml"), Path.Combine(home.Home, "pipelines", renamed + ".yaml"));
        Orders(home, 5);

        var tables = Assert.Single((await client.ValidateAsync(renamed)).Checks, c => c.Check == "tables");
        Assert.True(tables is { Ok: true, Warning: true }, tables.Detail);
        var run = await client.RunAsync(renamed);
        Assert.True(run.Succeeded, run.Log.Error);
        Assert.Contains(run.Log.Notices, n => n.StartsWith($"stream 'orders': table shop/orders ({home.Bucket}/raw/shop/orders/) was last written by pipeline '{old}'", StringComparison.Ordinal)
            && n.EndsWith("this run extracts everything again; merged by key, the rows it sends again replace the earlier ones", StringComparison.Ordinal));
        Assert.Equal(["1", "2", "3", "4", "5"], home.Query("SELECT id FROM read_parquet('{lake}/raw/shop/orders/*/*.parquet') ORDER BY id").Select(r => r[0]));
    }
}

using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

public sealed class StreamsCommandTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public void Streams_discovers_the_catalog_caches_it_and_shows_the_selection()
    {
        _home.WriteShopPipeline("shop", extraSource: "  streams: [orders]\n");
        var first = CliProcess.Run(_home, "streams", "shop", "-o", "json");
        Assert.True(first.ExitCode == 0, first.ToString());
        var doc = Json.Parse(first);
        Assert.True(doc.Bool("discovered"));
        Assert.Equal("listed", doc.Str("selection"));
        var streams = doc["streams"]!.AsArray();
        Assert.Equal(["orders", "customers"], streams.Select(s => s.Str("stream")));
        Assert.Equal([true, false], streams.Select(s => s.Bool("selected")));
        Assert.Equal(["id"], streams[0]!["key_properties"]!.AsArray().Select(k => k!.GetValue<string>()));
        Assert.Equal("FULL_TABLE", streams[0].Str("replication_method"));
        Assert.Equal(3, streams[0].Long("columns"));
        var cache = Path.Combine(_home.Pipelines, "shop.catalog.json");
        Assert.Equal(cache, doc.Str("catalog"));
        Assert.True(File.Exists(cache));

        // source.discover: always (the default) asks the tap each time, as a run does, but only a run or --refresh renews
        // the cache (the baseline of the next run's change notices).
        File.SetLastWriteTimeUtc(cache, new DateTime(2020, 1, 1));
        File.WriteAllText(cache, File.ReadAllText(cache).Replace("\"customers\"", "\"clients\"", StringComparison.Ordinal));
        var again = Json.Parse(CliProcess.Run(_home, "streams", "shop", "-o", "json"));
        Assert.True(again.Bool("discovered"));
        Assert.Contains(again["changes"]!.AsArray(), c => c!.GetValue<string>().Contains("new stream(s)", StringComparison.Ordinal)
            && c.GetValue<string>().Contains("customers; not selected by source.streams", StringComparison.Ordinal));
        Assert.Contains("clients", File.ReadAllText(cache), StringComparison.Ordinal);
        Assert.True(Json.Parse(CliProcess.Run(_home, "streams", "shop", "--refresh", "-o", "json")).Bool("discovered"));
        Assert.DoesNotContain("clients", File.ReadAllText(cache), StringComparison.Ordinal);
    }

    [Fact]
    public void With_source_discover_cached_the_cache_is_served_until_refresh()
    {
        _home.WriteShopPipeline("shop", extraSource: "  streams: [orders]\n  discover: cached\n");
        Assert.True(Json.Parse(CliProcess.Run(_home, "streams", "shop", "-o", "json")).Bool("discovered"));
        var cache = Path.Combine(_home.Pipelines, "shop.catalog.json");
        File.WriteAllText(cache, File.ReadAllText(cache).Replace("\"customers\"", "\"clients\"", StringComparison.Ordinal));
        var cached = Json.Parse(CliProcess.Run(_home, "streams", "shop", "-o", "json"));
        Assert.False(cached.Bool("discovered"));
        Assert.Equal(["orders", "clients"], cached["streams"]!.AsArray().Select(s => s.Str("stream")));
        var refreshed = Json.Parse(CliProcess.Run(_home, "streams", "shop", "--refresh", "-o", "json"));
        Assert.True(refreshed.Bool("discovered"));
        Assert.Equal(["orders", "customers"], refreshed["streams"]!.AsArray().Select(s => s.Str("stream")));
        Assert.DoesNotContain("clients", File.ReadAllText(cache), StringComparison.Ordinal);
    }

    [Fact]
    public void Replication_metadata_written_by_hand_into_the_cache_outlives_a_new_discovery()
    {
        _home.WriteShopPipeline("shop", extraSource: "  streams: [orders]\n");
        Assert.Equal(0, CliProcess.Run(_home, "streams", "shop", "--refresh").ExitCode);
        var cache = Path.Combine(_home.Pipelines, "shop.catalog.json");
        var catalog = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(cache))!;
        var root = catalog["streams"]![0]!["metadata"]![0]!["metadata"]!;
        root["replication-method"] = "INCREMENTAL";
        root["replication-key"] = "ordered_at";
        File.WriteAllText(cache, catalog.ToJsonString());

        var run = CliProcess.Run(_home, "run", "shop", "-o", "json");
        Assert.True(run.ExitCode == 0, run.ToString());
        // --refresh discovers again and renews the cache: the hand-written key is kept in the new one.
        var orders = Json.Parse(CliProcess.Run(_home, "streams", "shop", "--refresh", "-o", "json"))["streams"]![0]!;
        Assert.Equal("ordered_at", orders.Str("replication_key"));
        Assert.Contains("INCREMENTAL", File.ReadAllText(cache), StringComparison.Ordinal);
    }

    [Fact]
    public void A_discovery_that_fails_fails_the_run_instead_of_using_the_cached_catalog()
    {
        _home.WriteShopPipeline("shop", extraSource: "  streams: [orders]\n");
        Assert.Equal(0, CliProcess.Run(_home, "run", "shop").ExitCode);
        _home.WriteShopPipeline("shop", extraSource: "  streams: [orders]\n", tapArgs: " --fail");
        var run = CliProcess.Run(_home, "run", "shop", "-o", "json");
        Assert.Equal(1, run.ExitCode);
        var log = Json.Parse(run);
        Assert.Contains("during '", log.Str("error"));
        Assert.Contains("--fail --discover'", log.Str("error"));
        Assert.Contains("cannot reach the shop API", log.Str("error"));
    }

    [Fact]
    public void Without_source_streams_every_stream_is_selected()
    {
        _home.WriteShopPipeline("shop");
        var table = CliProcess.Run(_home, "streams", "shop");
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Matches(@"│ orders\s+│ yes\s+│ id\s+│ FULL_TABLE\s+│ 3\s+│", table.Stdout);
        Assert.Matches(@"│ customers\s+│ yes\s+│", table.Stdout);
        Assert.Contains("every stream is extracted", table.Stdout);
    }

    [Fact]
    public void A_run_with_selected_streams_passes_the_catalog_and_writes_only_those_streams()
    {
        _home.WriteShopPipeline("shop", extraSource: "  streams: [customers]\n");
        var result = CliProcess.Run(_home, "run", "shop", "-o", "json");
        Assert.True(result.ExitCode == 0, result.ToString());
        var log = Json.Parse(result);
        Assert.Equal(["customers"], log["streams"]!.AsObject().Select(kv => kv.Key));
        Assert.Equal(5, log.Long("total_records"));
        Assert.Contains(" --catalog ", log["tap"].Str("command"));
        Assert.Equal("selected: customers", log["tap"].Str("stderr_tail"));
        Assert.False(Directory.Exists(Path.Combine(_home.Lake, "raw", "shop_tap", "orders")));
        var rows = LakeReader.Rows($"{_home.Lake}/raw/shop_tap/customers/dt=*/*.parquet", "id, name", "id");
        Assert.Equal([1L, 2L, 3L, 4L, 5L], rows.Select(r => r[0]));
        Assert.Equal("c3", rows[2][1]);
        Assert.True(File.Exists(Path.Combine(_home.Pipelines, "shop.catalog.json")));
    }

    [Fact]
    public void Selecting_a_stream_the_tap_does_not_have_fails_the_run_naming_the_streams_it_has()
    {
        _home.WriteShopPipeline("shop", extraSource: "  streams: [invoices]\n");
        var result = CliProcess.Run(_home, "streams", "shop");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("source.streams: stream 'invoices' not in the tap's catalog; it has: orders, customers", result.Stderr);
        // A configuration error, found once the tap listed its streams: nothing ran (exit 2), and the run log says why.
        var run = CliProcess.Run(_home, "run", "shop", "-o", "json");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("'invoices' not in the tap's catalog", Json.Parse(run).Str("error"));
    }
}

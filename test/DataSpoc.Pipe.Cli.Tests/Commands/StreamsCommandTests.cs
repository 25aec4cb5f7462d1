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

        // Served from the cache until --refresh.
        File.SetLastWriteTimeUtc(cache, new DateTime(2020, 1, 1));
        Assert.False(Json.Parse(CliProcess.Run(_home, "streams", "shop", "-o", "json")).Bool("discovered"));
        Assert.Equal(new DateTime(2020, 1, 1), File.GetLastWriteTimeUtc(cache));
        Assert.True(Json.Parse(CliProcess.Run(_home, "streams", "shop", "--refresh", "-o", "json")).Bool("discovered"));
        Assert.NotEqual(new DateTime(2020, 1, 1), File.GetLastWriteTimeUtc(cache));
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

using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

public sealed class BasicCommandTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public void Version_prints_the_tool_name_and_version()
    {
        var result = CliProcess.Run(_home, "--version");
        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"^dataspoc-pipe \d+\.\d+\.\d+(\+[0-9a-f]{7})?\n$", result.Stdout);
        Assert.Equal("", result.Stderr);
        // Built in a git checkout (as here), the SDK stamps the commit: two builds of one release must tell apart.
        var stamped = typeof(ToolVersion).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .Cast<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion;
        if (stamped.Split('+') is not [var release, var commit]) return;
        Assert.Matches($@"^dataspoc-pipe {System.Text.RegularExpressions.Regex.Escape(release)}\+[0-9a-f]{{7}}\n$", result.Stdout);
        // The native binary is rebuilt when a source changes, not at every commit: its commit may be an earlier one.
        if (!CliProcess.IsNative) Assert.Equal($"dataspoc-pipe {release}+{commit[..7]}\n", result.Stdout);
    }

    [Fact]
    public void Init_creates_the_home_layout_and_a_second_init_changes_nothing()
    {
        var first = CliProcess.Run(_home, "init");
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains($"Initialized {_home.Home}", first.Stdout);
        foreach (var dir in new[] { "pipelines", "sources", "transforms" }) Assert.True(Directory.Exists(Path.Combine(_home.Home, dir)), dir);
        var config = Path.Combine(_home.Home, "config.yaml");
        Assert.Contains("compression: zstd", File.ReadAllText(config));
        File.AppendAllText(config, "# mine\n");

        var second = CliProcess.Run(_home, "init");
        Assert.Equal(0, second.ExitCode);
        Assert.Equal($"Already initialized: {_home.Home}\n", second.Stdout);
        Assert.EndsWith("# mine\n", File.ReadAllText(config));
    }

    [Fact]
    public void An_unknown_command_or_option_is_a_one_line_usage_error()
    {
        var command = CliProcess.Run(_home, "frobnicate");
        Assert.Equal(2, command.ExitCode);
        Assert.Equal("error: Unknown command 'frobnicate'.\n", command.Stderr);
        var option = CliProcess.Run(_home, "status", "--colour");
        Assert.Equal(2, option.ExitCode);
        Assert.Equal("error: Unknown option 'colour'.\n", option.Stderr);
        var output = CliProcess.Run(_home, "status", "--output", "xml");
        Assert.Equal(2, output.ExitCode);
        Assert.Equal("error: --output must be table or json, not 'xml'\n", output.Stderr);
    }

    [Fact]
    public void The_config_yaml_defaults_reach_the_files_a_run_writes()
    {
        CliProcess.Run(_home, "init");
        File.WriteAllText(Path.Combine(_home.Home, "config.yaml"), "defaults:\n  path: landing\n  partition_by: none\n  compression: gzip\n");
        _home.WritePipeline("shop", $"source:\n  tap: {CliProcess.ShopTap}\ndestination:\n  bucket: {_home.Bucket}\n");
        var result = CliProcess.Run(_home, "run", "shop");
        Assert.True(result.ExitCode == 0, result.ToString());
        var file = Assert.Single(Directory.GetFiles(Path.Combine(_home.Lake, "landing", "shop_tap", "orders")));
        Assert.Matches(@"/orders_0000_[0-9a-z]{8}\.parquet$", file);
        var codec = LakeReader.Query($"SELECT DISTINCT compression FROM parquet_metadata('{file}')")
            .Select(r => r[0]?.ToString()).ToList();
        Assert.Equal(["GZIP"], codec);
    }

    [Fact]
    public void A_tap_config_file_with_variables_runs_with_the_values_and_never_shows_them()
    {
        Directory.CreateDirectory(_home.Sources);
        File.WriteAllText(Path.Combine(_home.Sources, "shop.json"), """{"rows": "${SHOP_ROWS}", "api_token": "${SHOP_TOKEN}"}""");
        _home.WriteShopPipeline("shop", extraSource: "  config: sources/shop.json\n");
        _home.Set("SHOP_ROWS", "2").Set("SHOP_TOKEN", "tok-very-secret-123");
        var result = CliProcess.Run(_home, "run", "shop", "-o", "json");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(4, Json.Parse(result).Long("total_records"));
        Assert.DoesNotContain("tok-very-secret-123", result.Stdout + result.Stderr);

        _home.Set("SHOP_TOKEN", null);
        var missing = CliProcess.Run(_home, "run", "shop");
        Assert.Equal(2, missing.ExitCode);
        Assert.Equal($"error: {_home.Sources}/shop.json: $.api_token: environment variable 'SHOP_TOKEN' is not set (add SHOP_TOKEN=... to the home's .env, or use ${{SHOP_TOKEN:-default}} for a default)\n", missing.Stderr);
    }

    [Fact]
    public void Demo_creates_a_sample_pipeline_runs_it_and_shows_the_tables()
    {
        var result = CliProcess.Run(_home, "demo", "--output", "json");
        Assert.True(result.ExitCode == 0, result.ToString());
        var doc = Json.Parse(result);
        Assert.Equal($"file://{_home.Home}/demo-lake", doc.Str("bucket"));
        Assert.Equal(1100, doc.Long("total_records"));
        var orders = doc["tables"]!["csv/orders"]!;
        Assert.Equal(1000, orders.Long("row_count"));
        Assert.Equal(["order_id", "customer_id", "ordered_at", "amount", "discount", "status"], orders["columns"]!.AsArray().Select(c => c.Str("name")));
        Assert.Equal(100, doc["tables"]!["csv/customers"].Long("row_count"));

        // Read back independently: nulls where the CSV cell was empty, decimals and timestamps kept.
        var rows = LakeReader.Rows($"{_home.Home}/demo-lake/raw/csv/orders/*/*.parquet", "count(*), count(discount), min(ordered_at) >= TIMESTAMP '2024-06-01', sum(amount) > 0", "1");
        Assert.Equal(1000L, Convert.ToInt64(rows[0][0]));
        Assert.Equal(142L, Convert.ToInt64(rows[0][1]));
        Assert.Equal(true, rows[0][2]);

        var table = CliProcess.Run(_home, "demo");
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("csv/orders: order_id int64", table.Stdout);
        Assert.Matches(@"│ demo\s+│ replace\s+│ 1,000\s+│", table.Stdout);
    }
}

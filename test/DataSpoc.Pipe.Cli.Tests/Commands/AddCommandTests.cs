using System.Text.Json.Nodes;
using DataSpoc.Pipe.Cli.Tests.Support;
using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

public sealed class AddCommandTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    private PipelineDefinition Load(string name) =>
        PipelineLoader.ForHome(new PipeHome(_home.Home), _ => "x").LoadFile(Path.Combine(_home.Pipelines, name + ".yaml"));

    [Fact]
    public void Add_with_every_answer_as_a_flag_writes_the_pipeline_without_asking()
    {
        var result = CliProcess.RunWithInput(_home, "", "add", "orders", "--tap", "tap-postgres", "--bucket", "s3://my-lake", "--path", "landing",
            "--compression", "gzip", "--incremental", "--cron", "0 */6 * * *");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(
            "source:\n  tap: tap-postgres\n  config: sources/orders.json\ndestination:\n  bucket: s3://my-lake\n  path: landing\n  compression: gzip\n" +
            "incremental:\n  enabled: true\nschedule:\n  cron: \"0 */6 * * *\"\n",
            File.ReadAllText(Path.Combine(_home.Pipelines, "orders.yaml")));
        var p = Load("orders");
        Assert.Equal(Compression.Gzip, p.Destination.Compression);
        Assert.True(p.Incremental.Enabled);

        // The tap config comes from the tap-postgres template, with the password as a variable, private to the user.
        var configPath = Path.Combine(_home.Sources, "orders.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!;
        Assert.Equal("${PGPASSWORD}", config["password"]!.GetValue<string>());
        Assert.Equal(5432, config["port"]!.GetValue<int>());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(configPath));
    }

    [Fact]
    public void Add_on_redirected_stdin_asks_nothing_and_names_the_missing_flags()
    {
        var result = CliProcess.RunWithInput(_home, "tap-postgres\n", "add", "orders");
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: missing --tap and --bucket (stdin is not a terminal, so nothing is asked", result.Stderr);
        Assert.False(File.Exists(Path.Combine(_home.Pipelines, "orders.yaml")));
    }

    [Fact]
    public void Add_with_only_tap_and_bucket_leaves_the_rest_to_the_defaults()
    {
        var result = CliProcess.RunWithInput(_home, "", "add", "orders", "--tap", CliProcess.ShopTap, "--bucket", _home.Bucket);
        Assert.True(result.ExitCode == 0, result.ToString());
        var yaml = File.ReadAllText(Path.Combine(_home.Pipelines, "orders.yaml"));
        Assert.DoesNotContain("compression", yaml);
        Assert.DoesNotContain("schedule", yaml);
        Assert.Contains("enabled: false", yaml);
        // An unknown tap's config skeleton comes from its --about settings; its secret becomes a variable.
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(_home.Sources, "orders.json")))!;
        Assert.Equal("https://shop.example.com", config["api_url"]!.GetValue<string>());
        Assert.Equal("${ORDERS_API_TOKEN}", config["api_token"]!.GetValue<string>());
        Assert.Equal("", config["rows"]!.GetValue<string>());
    }

    [Fact]
    public void Add_copies_a_given_tap_config_and_refuses_an_existing_name()
    {
        var given = Path.Combine(_home.Root, "mine.json");
        File.WriteAllText(given, """{"rows": 3}""");
        var first = CliProcess.RunWithInput(_home, "", "add", "shop", "--tap", CliProcess.ShopTap, "--bucket", _home.Bucket, "--config", given);
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal("""{"rows": 3}""", File.ReadAllText(Path.Combine(_home.Sources, "shop.json")));

        var again = CliProcess.RunWithInput(_home, "", "add", "shop", "--tap", "tap-other", "--bucket", _home.Bucket);
        Assert.Equal(2, again.ExitCode);
        Assert.Equal($"error: pipeline 'shop' already exists ({_home.Pipelines}/shop.yaml); pick another name or edit that file\n", again.Stderr);
        Assert.Contains(CliProcess.ShopTap, File.ReadAllText(Path.Combine(_home.Pipelines, "shop.yaml")));

        // The pipeline it wrote runs as it is.
        var run = CliProcess.Run(_home, "run", "shop", "-o", "json");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(6, Json.Parse(run).Long("total_records"));
    }

    [Fact]
    public void A_built_in_tap_gets_its_template_and_validates_without_a_subprocess()
    {
        var data = Path.Combine(_home.Root, "csvs");
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, "items.csv"), "id,price\n1,2.50\n2,\n");
        var add = CliProcess.RunWithInput(_home, "", "add", "items", "--tap", "csv", "--bucket", _home.Bucket);
        Assert.True(add.ExitCode == 0, add.ToString());
        var configPath = Path.Combine(_home.Sources, "items.json");
        Assert.Equal("/path/to/csv/folder-or-file", JsonNode.Parse(File.ReadAllText(configPath))!["path"]!.GetValue<string>());
        File.WriteAllText(configPath, new JsonObject { ["path"] = data }.ToJsonString());

        var validate = Json.Parse(CliProcess.Run(_home, "validate", "items", "-o", "json")).AsArray().Single()!;
        Assert.True(validate.Bool("ok"), validate.ToJsonString());
        Assert.Equal("'csv' is a built-in tap; its source lists 1 stream(s): items", validate["checks"]!.AsArray().Single(c => c.Str("check") == "tap").Str("detail"));

        var run = CliProcess.Run(_home, "run", "items", "-o", "json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var rows = LakeReader.Rows($"{_home.Lake}/raw/csv/items/dt=*/*.parquet", "id, price", "id");
        Assert.Equal(2, rows.Count);
        Assert.Null(rows[1][1]);
    }

    [Theory]
    [InlineData("--cron", "61 * * * *", "--cron: invalid cron expression '61 * * * *'")]
    [InlineData("--compression", "lz4", "--compression must be zstd, snappy, gzip or none, not 'lz4'")]
    [InlineData("--bucket", "ftp://x", "--bucket: bucket 'ftp://x' has unsupported scheme")]
    public void Add_rejects_invalid_answers_with_exit_code_2(string flag, string value, string message)
    {
        var args = new List<string> { "add", "orders", "--tap", "tap-x", "--bucket", _home.Bucket };
        var at = args.IndexOf(flag);
        if (at >= 0) args[at + 1] = value;
        else args.AddRange([flag, value]);
        var result = CliProcess.RunWithInput(_home, "", [.. args]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Stderr);
        Assert.False(File.Exists(Path.Combine(_home.Pipelines, "orders.yaml")));
    }

    [Fact]
    public void The_wizard_in_a_terminal_asks_each_question_and_writes_the_answers()
    {
        Assert.True(PseudoTerminal.Available, "util-linux 'script' is needed for the pseudo-terminal test");
        // ... then the tap config's secret left unset (so its streams cannot be discovered now).
        var result = PseudoTerminal.Run(_home, "Tap (", $"{CliProcess.ShopTap}\r{_home.Bucket}\r\rsnappy\ry\r0 3 * * *\r\r", "add", "wiz");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Base path in the bucket (raw)", result.Stdout);
        Assert.Contains("Compression [zstd/snappy/gzip/none] (zstd)", result.Stdout);
        Assert.Contains("Incremental (resume from saved state)? [y/n] (n)", result.Stdout);
        var p = Load("wiz");
        Assert.Equal(CliProcess.ShopTap, p.Source.Tap);
        Assert.Equal(_home.Bucket, p.Destination.Bucket);
        Assert.Equal("raw", p.Destination.Path);
        Assert.Equal(Compression.Snappy, p.Destination.Compression);
        Assert.True(p.Incremental.Enabled);
        Assert.Equal("0 3 * * *", p.Schedule?.Cron);
        Assert.Null(p.Source.Streams); // every stream: nothing to write
        Assert.Contains("Streams are not discovered now", result.Stdout);
    }

    [Fact]
    public void The_wizard_discovers_the_taps_streams_and_writes_the_ones_picked()
    {
        Assert.True(PseudoTerminal.Available, "util-linux 'script' is needed for the pseudo-terminal test");
        // Discovery: yes; the list offers orders then customers, both selected: down, space deselects customers, enter.
        var config = Path.Combine(_home.Root, "shop.json");
        File.WriteAllText(config, "{\"rows\": 3}");
        var result = PseudoTerminal.Run(_home, "Cron", "\r\r\u001b[B \r", "add", "picked", "--tap", CliProcess.ShopTap, "--config", config,
            "--bucket", _home.Bucket, "--path", "raw", "--compression", "zstd", "--incremental", "false");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Streams to extract", result.Stdout);
        Assert.Equal(["orders"], Load("picked").Source.Streams);
        Assert.True(File.Exists(Path.Combine(_home.Pipelines, "picked.catalog.json")), "the discovered catalog is cached beside the pipeline");
    }

    [Fact]
    public void Streams_given_as_a_flag_are_written_without_asking()
    {
        var result = CliProcess.Run(_home, "add", "flagged", "--tap", CliProcess.ShopTap, "--bucket", _home.Bucket, "--streams", "orders, cust*");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["orders", "cust*"], Load("flagged").Source.Streams);
    }

    [Fact]
    public void The_wizard_asks_only_what_the_flags_leave_out()
    {
        Assert.True(PseudoTerminal.Available, "util-linux 'script' is needed for the pseudo-terminal test");
        var result = PseudoTerminal.Run(_home, "Compression", "none\r\r\r", "add", "partial", "--tap", "tap-x", "--bucket", _home.Bucket, "--path", "p");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain("Tap (", result.Stdout);
        Assert.DoesNotContain("Bucket", result.Stdout);
        var p = Load("partial");
        Assert.Equal(Compression.None, p.Destination.Compression);
        Assert.False(p.Incremental.Enabled);
        Assert.Null(p.Schedule);
    }
}

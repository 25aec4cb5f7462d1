using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>Every command finds a tap the same way: a <c>~/</c> path or a <c>${VAR}</c> from the home's <c>.env</c> validates, discovers and runs alike.</summary>
public sealed class TapResolutionTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    [Theory]
    [InlineData("~/bin/tap-shop")]
    [InlineData("${TAP_BIN}/tap-shop")]
    public void A_tap_named_with_a_tilde_or_a_variable_validates_lists_its_streams_and_runs(string tapSource)
    {
        var bin = Path.Combine(_home.Root, "bin");
        Directory.CreateDirectory(bin);
        var tap = Path.Combine(bin, "tap-shop");
        File.Copy(CliProcess.Asset("shop_tap.py"), tap);
        File.SetUnixFileMode(tap, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.CreateDirectory(_home.Home);
        var envFile = Path.Combine(_home.Home, ".env");
        File.WriteAllText(envFile, $"TAP_BIN={bin}\n");
        File.SetUnixFileMode(envFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _home.WritePipeline("shop", $"""
            source:
              tap: {tapSource}
              streams: [orders]
            destination:
              bucket: {_home.Bucket}
            """);

        var validate = CliProcess.Run(_home, "validate", "shop", "--output", "json");
        Assert.True(validate.ExitCode == 0, validate.ToString());
        Assert.Contains("passed with --catalog", validate.Stdout, StringComparison.Ordinal);

        var streams = CliProcess.Run(_home, "streams", "shop", "--output", "json");
        Assert.True(streams.ExitCode == 0, streams.ToString());
        Assert.Contains("customers", streams.Stdout, StringComparison.Ordinal);

        var run = CliProcess.Run(_home, "run", "shop", "--output", "json");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(5, Json.Parse(run)["streams"]!["orders"].Long("records"));
        Assert.Equal(5, LakeReader.Rows($"{_home.Lake}/raw/shop/orders/dt=*/*.parquet", "id", "id").Count);
    }

    [Theory]
    [InlineData("a quoted path with a space", "shop")]
    [InlineData("an argument with a quote", "shop_tap")]
    public void A_quoted_tap_command_runs_into_the_source_folder_that_validate_and_config_name(string form, string folder)
    {
        var tap = CliProcess.ShopTap + " --extra \"c'd\"";
        if (form == "a quoted path with a space")
        {
            var bin = Directory.CreateDirectory(Path.Combine(_home.Root, "my taps")).FullName;
            File.Copy(CliProcess.Asset("shop_tap.py"), Path.Combine(bin, "tap-shop"));
            File.SetUnixFileMode(Path.Combine(bin, "tap-shop"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            tap = $"'{bin}/tap-shop'";
        }
        _home.WritePipeline("quoted", $"""
            source:
              tap: '{tap.Replace("'", "''", StringComparison.Ordinal)}'
              streams: [orders]
            destination:
              bucket: {_home.Bucket}
            incremental:
              enabled: true
            """);

        var config = CliProcess.Run(_home, "config", "quoted", "--output", "json");
        Assert.True(config.ExitCode == 0, config.ToString());
        Assert.Equal(folder, Json.Parse(config)["source"].Str("name"));

        var run = CliProcess.Run(_home, "run", "quoted", "--output", "json");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal([folder], Directory.GetDirectories(Path.Combine(_home.Lake, "raw")).Select(Path.GetFileName));
        Assert.Equal(5, LakeReader.Rows($"{_home.Lake}/raw/{folder}/orders/dt=*/*.parquet", "id", "id").Count);

        // The state the run saved is the tables' of the folder validate checks it against.
        var validate = CliProcess.Run(_home, "validate", "quoted", "--output", "json");
        Assert.True(validate.ExitCode == 0, validate.ToString());
    }
}

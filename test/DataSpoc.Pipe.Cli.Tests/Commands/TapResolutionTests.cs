using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>Every command finds a tap the same way: a <c>~/</c> path validates, discovers and runs alike.</summary>
public sealed class TapResolutionTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public void A_tap_under_the_home_folder_named_with_a_tilde_validates_and_runs()
    {
        var bin = Path.Combine(_home.Root, "bin");
        Directory.CreateDirectory(bin);
        var tap = Path.Combine(bin, "tap-shop");
        File.Copy(CliProcess.Asset("shop_tap.py"), tap);
        File.SetUnixFileMode(tap, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _home.WritePipeline("shop", $"""
            source:
              tap: ~/bin/tap-shop
              streams: [orders]
            destination:
              bucket: {_home.Bucket}
            """);

        var validate = CliProcess.Run(_home, "validate", "shop", "--output", "json");
        Assert.True(validate.ExitCode == 0, validate.ToString());
        Assert.Contains("passed with --catalog", validate.Stdout, StringComparison.Ordinal);

        var run = CliProcess.Run(_home, "run", "shop", "--output", "json");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(5, Json.Parse(run)["streams"]!["orders"].Long("records"));
        Assert.Equal(5, LakeReader.Rows($"{_home.Lake}/raw/shop/orders/dt=*/*.parquet", "id", "id").Count);
    }
}

using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Sources;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources;

/// <summary>What a tap says of itself decides how its catalog is passed.</summary>
public sealed class TapCapabilitiesTests
{
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_tap_that_ignores_its_arguments_and_prints_without_end_is_read_only_up_to_the_answer_limit_and_stopped()
    {
        var folder = Directory.CreateTempSubdirectory("dsp-endless-tap-").FullName;
        try
        {
            // A tap that extracts whatever it is asked (the bench's replay tap, a tap without --help): records, forever.
            var tap = Path.Combine(folder, "tap-endless");
            File.WriteAllText(tap, "#!/bin/sh\nexec yes '{\"type\": \"RECORD\", \"stream\": \"s\", \"record\": {\"id\": 1}}'\n");
            File.SetUnixFileMode(tap, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            const int limit = 64 * 1024;
            var answer = await TapAnswer.AskAsync(tap, ["--help"], TimeSpan.FromSeconds(60), limit, CancellationToken.None);
            Assert.Equal(limit, answer.Stdout.Length);
            Assert.StartsWith("{\"type\": \"RECORD\"", answer.Stdout);
            Assert.NotEqual(0, answer.ExitCode); // killed, not finished
            Assert.Null(TapCapabilities.FromHelp(tap, answer.Stdout));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_singer_python_usage_line_gets_the_catalog_under_both_flags_properties_first()
    {
        var c = TapCapabilities.FromHelp("tap-postgres", "usage: tap-postgres [-h] -c CONFIG [-s STATE] [-p PROPERTIES]\n  -p PROPERTIES, --properties PROPERTIES\n  --catalog CATALOG\n  -d, --discover");
        Assert.NotNull(c);
        Assert.True(c.CanDiscover);
        Assert.Equal([CatalogFlags.Properties, CatalogFlags.Catalog], c.CatalogFlags);
    }

    [Fact]
    public void A_click_help_without_properties_gets_only_the_catalog_flag()
    {
        var c = TapCapabilities.FromHelp("tap-x", "Options:\n  --discover  Run the tap in discovery mode.\n  --catalog PATH  Use a Singer catalog file.\n");
        Assert.Equal([CatalogFlags.Catalog], c!.CatalogFlags);
    }

    [Fact]
    public void A_tap_that_lists_only_properties_gets_properties()
    {
        Assert.Equal([CatalogFlags.Properties], TapCapabilities.FromHelp("t", "--config --properties --discover")!.CatalogFlags);
    }

    [Fact]
    public void Text_that_names_no_singer_flag_is_not_an_answer()
    {
        Assert.Null(TapCapabilities.FromHelp("t", "{\"type\": \"RECORD\", \"stream\": \"a\", \"record\": {}}"));
        Assert.Null(TapCapabilities.FromAbout("t", "not json"));
        Assert.Null(TapCapabilities.FromAbout("t", "{\"name\": \"tap\"}"));
    }

    [Fact]
    public void About_capabilities_decide_discovery_and_flags_and_an_override_wins()
    {
        var c = TapCapabilities.FromAbout("t", "{\"capabilities\": [\"catalog\", \"discover\", \"state\"]}")!;
        Assert.True(c.CanDiscover);
        Assert.Equal([CatalogFlags.Catalog], c.CatalogFlags);
        var forced = c.WithOverride(CatalogFlags.Properties);
        Assert.Equal([CatalogFlags.Properties], forced.CatalogFlags);
        Assert.Equal("source.catalog_flag", forced.Origin);
        Assert.Same(c, c.WithOverride(CatalogFlags.Auto));
    }
}

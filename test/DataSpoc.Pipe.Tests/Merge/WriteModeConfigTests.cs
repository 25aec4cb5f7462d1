using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Tests.Merge;

/// <summary><c>destination.write_mode</c> and <c>destination.merge</c> in a pipeline's YAML, and the mode a run takes.</summary>
public sealed class WriteModeConfigTests
{
    private static PipelineLoader Loader => new(new PipeDefaults(), Path.GetTempPath(), _ => null);

    private static PipelineDefinition Parse(string destination, bool incremental = true) => Loader.Parse(
        $"source:\n  tap: tap-x\ndestination:\n  bucket: file:///tmp/x\n{destination}incremental:\n  enabled: {(incremental ? "true" : "false")}\n", "p", "/p/p.yaml");

    [Fact]
    public void Merge_with_order_by_and_hard_delete_is_read()
    {
        var p = Parse("  write_mode: merge\n  merge:\n    order_by: updated_at\n    hard_delete: false\n");
        Assert.Equal(WriteMode.Merge, p.Destination.WriteMode);
        Assert.Equal(new MergeSettings { OrderBy = "updated_at", HardDelete = false }, p.Destination.Merge);
        Assert.True(Parse("  write_mode: merge\n").Destination.Merge.HardDelete);
    }

    [Fact]
    public void An_unknown_mode_or_merge_settings_without_merge_are_errors_naming_file_line_and_key()
    {
        var e = Assert.Throws<ConfigException>(() => Parse("  write_mode: upsert\n"));
        Assert.Equal("/p/p.yaml:5: destination.write_mode: expected append, merge or replace, got 'upsert'", e.Message);
        e = Assert.Throws<ConfigException>(() => Parse("  merge:\n    order_by: x\n"));
        Assert.Contains("destination.merge: applies only with write_mode: merge", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ConfigException>(() => Parse("  write_mode: merge\n  merge:\n    order: x\n"));
        Assert.Contains("destination.merge.order", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, true, false, false)]   // incremental appends, as before
    [InlineData(null, false, false, true)]   // full pipelines replace, as before
    [InlineData("merge", false, false, false)]
    [InlineData("append", false, false, false)]
    [InlineData("replace", true, false, true)]
    [InlineData("merge", true, true, true)]  // run --full always replaces
    public void The_write_mode_decides_whether_a_run_replaces(string? mode, bool incremental, bool fullRequested, bool replaces)
    {
        var p = Parse(mode is null ? "" : $"  write_mode: {mode}\n", incremental);
        Assert.Equal(replaces, WriteModes.Replaces(p, fullRequested));
    }
}

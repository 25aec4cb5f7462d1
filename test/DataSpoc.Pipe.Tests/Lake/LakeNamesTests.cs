using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;

namespace DataSpoc.Pipe.Tests.Lake;

public sealed class LakeNamesTests
{
    [Theory]
    [InlineData("orders", true)]
    [InlineData("Orders-2025_v1.2", true)]
    [InlineData("../../evil", false)]
    [InlineData("a/b", false)]
    [InlineData("a\\b", false)]
    [InlineData(".hidden", false)]
    [InlineData("..", false)]
    [InlineData("-rf", false)]
    [InlineData("", false)]
    [InlineData("with space", false)]
    [InlineData("nul\0byte", false)]
    [InlineData("ünïcode", false)]
    public void Pipeline_names_are_one_plain_file_name(string name, bool valid)
    {
        Assert.Equal(valid, LakeNames.IsValidPipelineName(name));
        if (valid) Assert.Equal(name, LakeNames.Pipeline(name));
        else Assert.Contains("is not valid: use letters, digits", Assert.Throws<ConfigException>(() => LakeNames.Pipeline(name)).Message);
    }

    [Fact]
    public void Every_home_path_of_a_pipeline_name_is_checked()
    {
        var home = new PipeHome(Path.Combine(Path.GetTempPath(), "dsp-names-home"));
        Assert.Throws<ConfigException>(() => home.FindPipelineFile("../../evil"));
        Assert.Throws<ConfigException>(() => home.PipelinePath("../x"));
        Assert.Throws<ConfigException>(() => home.SourceConfigPath("../x"));
        Assert.Throws<ConfigException>(() => new PipelineLoader().Parse("source: {tap: x}\ndestination: {bucket: 'file:///tmp'}", "../x", "/p/x.yaml"));
    }

    [Theory]
    [InlineData("../../etc", "must not start with '.'")]
    [InlineData(".dataspoc", "must not start with '.'")]
    [InlineData("a/b", "must be one folder name")]
    [InlineData("a\nb", "must be one folder name")]
    [InlineData("", "is empty")]
    public void Source_names_are_one_visible_folder_name(string name, string why)
    {
        Assert.Contains(why, LakeNames.SourceNameError(name));
        Assert.Throws<ConfigException>(() => LakeNames.Source(name));
    }

    [Theory]
    [InlineData("sales/../items", "sales_.._items")]
    [InlineData("a\\b c", "a_b_c")]
    [InlineData("public-orders", "public-orders")]
    [InlineData("hash#x", "hash_x")]
    [InlineData("q?x=1", "q_x=1")]
    [InlineData("p%41ct", "p_41ct")]
    [InlineData("plus+x;amp&x*", "plus+x;amp&x*")]
    public void Stream_names_become_one_folder_name(string stream, string table) => Assert.Equal(table, LakeNames.Table(stream));

    [Theory]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("")]
    public void A_stream_name_that_is_only_dots_is_refused(string stream) => Assert.Throws<ArgumentException>(() => LakeNames.Table(stream));
}

using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Singer;

/// <summary>Messages that are valid JSON but not valid Unicode fail naming their line (found by the mutation fuzzer).</summary>
public class SingerMessageReaderTests
{
    [Theory]
    [InlineData("""{"type":"\ud800","stream":"items","record":{"id":2}}""")]
    [InlineData("""{"type":"RECORD","stream":"\udc00 lone low","record":{"id":2}}""")]
    [InlineData("""{"type":"STATE","value":{"k":"\ud83d"}, "x":"\udc00"}""")]
    public async Task A_lone_surrogate_in_a_message_fails_naming_its_line(string line)
    {
        using var lake = new TempLake();
        var file = lake.WriteSinger("surrogate.singer",
            """{"type":"SCHEMA","stream":"items","schema":{"type":"object","properties":{"id":{"type":"integer"}}},"key_properties":["id"]}""",
            """{"type":"RECORD","stream":"items","record":{"id":1}}""",
            line);

        var result = await TempLake.RunAsync(lake.Pipeline("surrogate", file));

        Assert.False(result.Succeeded);
        Assert.Contains("line 3", result.Log.Error);
        Assert.Empty(lake.ParquetKeys());
    }
}

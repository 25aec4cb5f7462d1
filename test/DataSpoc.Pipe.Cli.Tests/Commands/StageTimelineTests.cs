using System.Globalization;
using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

public sealed class StageTimelineTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public void A_run_with_DATASPOC_PIPE_TIMELINE_writes_its_hand_offs_in_time_order_with_every_row_encoded()
    {
        _home.WriteShopPipeline("shop");
        var timeline = Path.Combine(_home.Root, "timeline.tsv");
        _home.Set("DATASPOC_PIPE_TIMELINE", timeline);
        var result = CliProcess.Run(_home, "run", "shop", "--output", "json");
        Assert.True(result.ExitCode == 0, result.ToString());

        var lines = File.ReadAllLines(timeline);
        Assert.Equal("ms\tthread\tevent\tvalue", lines[0]);
        var events = lines.Skip(1).Select(l => l.Split('\t'))
            .Select(f => (Ms: double.Parse(f[0], CultureInfo.InvariantCulture), Thread: f[1], Name: f[2], Value: long.Parse(f[3], CultureInfo.InvariantCulture)))
            .ToList();
        var names = events.Select(e => e.Name).ToList();
        Assert.True(events.All(e => e.Ms > 0), string.Join('\n', lines));
        Assert.Equal(events.OrderBy(e => e.Ms).Select(e => e.Name), names);
        Assert.Equal("exit", names[^1]);
        Assert.True(names.IndexOf("input.first") < names.IndexOf("input.end"), string.Join('\n', lines));
        Assert.True(names.IndexOf("input.end") < names.LastIndexOf("complete.end"), string.Join('\n', lines));
        // The shop tap sends 5 orders and 5 customers: each row is in exactly one encoded row group.
        Assert.Equal(10, events.Where(e => e.Name == "encode.end").Sum(e => e.Value));
        Assert.Equal(events.Count(e => e.Name == "encode.end"), events.Count(e => e.Name is "encode.start" or "encode2.start"));
    }
}

using System.Text.Json.Nodes;
using DataSpoc.Pipe.Tests.Failures;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Parquet;

/// <summary><c>max_file_rows</c> and <c>max_file_mb</c> are limits: no file holds more rows or bytes, and no row is lost.</summary>
public sealed class FileLimitTests : IDisposable
{
    private readonly TempLake _lake = new();

    public void Dispose() => _lake.Dispose();

    [Theory]
    [InlineData(10_000, 25_000)]
    [InlineData(1_000, 4_500)]
    [InlineData(70_000, 150_000)]
    public async Task No_file_holds_more_rows_than_max_file_rows(int maxRows, int records)
    {
        var name = "rows-" + maxRows;
        var run = await TempLake.RunAsync(ScriptedTap.Pipeline(_lake, name, new JsonObject { ["max_id"] = records, ["stream"] = name },
            p => p with { Destination = p.Destination with { MaxFileRows = maxRows } }));
        Assert.True(run.Succeeded, run.Log.Error);

        var perFile = _lake.Query($"SELECT filename, count(*) FROM read_parquet('{{lake}}/raw/test/{name}/*/*.parquet', filename = true) GROUP BY filename");
        Assert.All(perFile, f => Assert.True(long.Parse(f[1]!) <= maxRows, $"{f[0]} holds {f[1]} rows, more than {maxRows}"));
        Assert.Equal(records, perFile.Sum(f => long.Parse(f[1]!)));
        Assert.True(perFile.Count >= (records + maxRows - 1) / maxRows);
        Assert.Equal([[records.ToString(System.Globalization.CultureInfo.InvariantCulture)]],
            _lake.Query($"SELECT count(DISTINCT id) FROM read_parquet('{{lake}}/raw/test/{name}/*/*.parquet')"));
    }

    [Fact]
    public async Task No_file_is_larger_than_max_file_mb()
    {
        var random = new Random(7);
        var lines = new List<string> { """{"type":"SCHEMA","stream":"blobs","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"blob":{"type":"string"}}}}""" };
        for (var id = 1; id <= 20_000; id++)
            lines.Add($$$"""{"type":"RECORD","stream":"blobs","record":{"id":{{{id}}},"blob":"{{{Convert.ToHexString(RandomBytes(random, 100))}}}"}}""");
        var singer = _lake.WriteSinger("blobs.singer", [.. lines]);

        var run = await TempLake.RunAsync(_lake.Pipeline("megabytes", singer, p => p with { Destination = p.Destination with { MaxFileMb = 1 } }));
        Assert.True(run.Succeeded, run.Log.Error);

        var files = Directory.GetFiles(Path.Combine(_lake.Root, "raw", "test", "blobs"), "*.parquet", SearchOption.AllDirectories);
        Assert.True(files.Length >= 3, $"{files.Length} file(s): 4 MB of random hex should not fit in fewer than 3 files of 1 MB");
        Assert.All(files, f => Assert.True(new FileInfo(f).Length <= 1024 * 1024, $"{f} is {new FileInfo(f).Length} bytes"));
        Assert.Equal([["20000"]], _lake.Query("SELECT count(DISTINCT id) FROM read_parquet('{lake}/raw/test/blobs/*/*.parquet')"));
    }

    private static byte[] RandomBytes(Random random, int n)
    {
        var bytes = new byte[n];
        random.NextBytes(bytes);
        return bytes;
    }
}

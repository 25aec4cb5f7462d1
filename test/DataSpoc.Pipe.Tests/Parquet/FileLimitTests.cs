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

    [Fact]
    public async Task Rows_of_a_tenth_of_max_file_mb_fill_files_up_to_the_limit_not_sixteen_rows_at_a_time()
    {
        // 40 rows of 100 KB of random hex, uncompressed: 10 fit a file of 1 MB, 16 (the rows between two looks at a
        // batch's bytes) do not.
        var random = new Random(11);
        var blobs = Enumerable.Range(0, 40).Select(_ => Convert.ToHexString(RandomBytes(random, 50_000))).ToList();
        var singer = _lake.WriteSinger("wide.singer", [Schema("wide"), .. blobs.Select((b, i) => Record("wide", i + 1, b))]);

        var run = await TempLake.RunAsync(_lake.Pipeline("wide-rows", singer,
            p => p with { Destination = p.Destination with { MaxFileMb = 1, Compression = Config.Compression.None } }));
        Assert.True(run.Succeeded, run.Log.Error);

        var files = Directory.GetFiles(Path.Combine(_lake.Root, "raw", "test", "wide"), "*.parquet", SearchOption.AllDirectories);
        Assert.All(files, f => Assert.True(new FileInfo(f).Length <= 1024 * 1024 + 16 * 1024, $"{f} is {new FileInfo(f).Length} bytes, over 1 MiB and its footer"));
        Assert.InRange(files.Length, 4, 6);
        AssertLanded("wide", blobs);
        Assert.DoesNotContain(run.Log.Notices, n => n.Contains("max_file_mb", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_row_larger_than_max_file_mb_lands_alone_in_its_file_with_a_notice()
    {
        // Three rows of 3 MB among rows of a few bytes: each big row alone in its file, the small ones around them
        // in files of their own, and the run log says how many rows were over the limit.
        var random = new Random(13);
        var blobs = new List<string>();
        for (var i = 0; i < 12; i++) blobs.Add(i % 4 == 1 ? Convert.ToHexString(RandomBytes(random, 1_500_000)) : "small" + i);
        var singer = _lake.WriteSinger("big.singer", [Schema("big"), .. blobs.Select((b, i) => Record("big", i + 1, b))]);

        var run = await TempLake.RunAsync(_lake.Pipeline("big-rows", singer, p => p with { Destination = p.Destination with { MaxFileMb = 1 } }));
        Assert.True(run.Succeeded, run.Log.Error);

        var perFile = _lake.Query("SELECT filename, count(*), max(length(blob)) FROM read_parquet('{lake}/raw/test/big/*/*.parquet', filename = true) GROUP BY filename");
        var withBigRow = perFile.Where(f => long.Parse(f[2]!) > 1024 * 1024).ToList();
        Assert.Equal(3, withBigRow.Count);
        Assert.All(withBigRow, f => Assert.Equal("1", f[1]));
        var files = Directory.GetFiles(Path.Combine(_lake.Root, "raw", "test", "big"), "*.parquet", SearchOption.AllDirectories);
        Assert.All(files, f => Assert.True(new FileInfo(f).Length <= 3_000_000 + 64 * 1024, $"{f} is {new FileInfo(f).Length} bytes: more than its one big row"));
        AssertLanded("big", blobs);
        Assert.Contains(run.Log.Notices, n => n.Contains("stream 'big': 3 row(s) larger than max_file_mb (1 MB)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rows_with_lists_are_cut_between_files_at_row_boundaries()
    {
        // Rows of ~300 KB holding a list of a varying length: a cut between files must keep each row's list whole.
        var random = new Random(17);
        var lines = new List<string> { """{"type":"SCHEMA","stream":"lists","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"n":{"type":"array","items":{"type":"integer"}},"blob":{"type":"string"}}}}""" };
        for (var id = 1; id <= 20; id++)
            lines.Add($$$"""{"type":"RECORD","stream":"lists","record":{"id":{{{id}}},"n":[{{{string.Join(",", Enumerable.Range(0, id * 7))}}}],"blob":"{{{Convert.ToHexString(RandomBytes(random, 150_000))}}}"}}""");
        var singer = _lake.WriteSinger("lists.singer", [.. lines]);

        var run = await TempLake.RunAsync(_lake.Pipeline("list-rows", singer, p => p with { Destination = p.Destination with { MaxFileMb = 1 } }));
        Assert.True(run.Succeeded, run.Log.Error);

        var files = Directory.GetFiles(Path.Combine(_lake.Root, "raw", "test", "lists"), "*.parquet", SearchOption.AllDirectories);
        Assert.True(files.Length >= 6, $"{files.Length} file(s) for 6 MB of rows");
        Assert.All(files, f => Assert.True(new FileInfo(f).Length <= 1024 * 1024 + 16 * 1024, $"{f} is {new FileInfo(f).Length} bytes"));
        var rows = _lake.Query("SELECT id, len(n), list_sum(n), length(blob) FROM read_parquet('{lake}/raw/test/lists/*/*.parquet') ORDER BY id");
        Assert.Equal(20, rows.Count);
        for (var id = 1; id <= 20; id++)
        {
            var n = id * 7;
            Assert.Equal([$"{id}", $"{n}", $"{(long)n * (n - 1) / 2}", "300000"], rows[id - 1]);
        }
    }

    private static string Schema(string stream) =>
        """{"type":"SCHEMA","stream":"STREAM","key_properties":["id"],"schema":{"type":"object","properties":{"id":{"type":"integer"},"blob":{"type":"string"}}}}""".Replace("STREAM", stream, StringComparison.Ordinal);

    private static string Record(string stream, int id, string blob) =>
        $$$"""{"type":"RECORD","stream":"{{{stream}}}","record":{"id":{{{id}}},"blob":"{{{blob}}}"}}""";

    /// <summary>Every row landed once with its own value: ids, lengths and a digest of each value, in id order.</summary>
    private void AssertLanded(string stream, List<string> blobs)
    {
        var rows = _lake.Query($"SELECT id, length(blob), md5(blob) FROM read_parquet('{{lake}}/raw/test/{stream}/*/*.parquet') ORDER BY id");
        Assert.Equal(blobs.Count, rows.Count);
        for (var i = 0; i < blobs.Count; i++)
        {
            Assert.Equal((i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), rows[i][0]);
            Assert.Equal(blobs[i].Length.ToString(System.Globalization.CultureInfo.InvariantCulture), rows[i][1]);
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(System.Text.Encoding.UTF8.GetBytes(blobs[i]))), rows[i][2]);
        }
    }

    private static byte[] RandomBytes(Random random, int n)
    {
        var bytes = new byte[n];
        random.NextBytes(bytes);
        return bytes;
    }
}

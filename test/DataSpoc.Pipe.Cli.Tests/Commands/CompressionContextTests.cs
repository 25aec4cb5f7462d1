using System.Globalization;
using System.Text;
using DataSpoc.Pipe.Cli.Tests.Support;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// The native binary keeps zstd compression contexts between Parquet pages (src/DataSpoc.Pipe.Cli/Native/
/// zstd_context_reuse.c): a context compresses a page on one encoder thread, is reset, and compresses the next page on
/// another. These runs write hundreds of small zstd pages across the encoder threads and read every value back.
/// </summary>
public sealed class CompressionContextTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public void Pages_compressed_by_reused_contexts_on_every_encoder_thread_read_back_intact()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        // 24 daily partitions of two streams: each partition's file gets its own small row groups and pages, so contexts
        // pass between files, columns and threads many times.
        var expected = new List<(long Id, DateTime At, string Note, double Amount)>();
        var singer = new StringBuilder();
        foreach (var stream in new[] { "left", "right" })
            singer.Append("{\"type\":\"SCHEMA\",\"stream\":\"").Append(stream).Append("\",\"schema\":{\"type\":\"object\",\"properties\":{")
                .Append("\"id\":{\"type\":\"integer\"},\"happened\":{\"type\":\"string\",\"format\":\"date-time\"},")
                .Append("\"note\":{\"type\":[\"null\",\"string\"]},\"amount\":{\"type\":\"number\"}}},\"key_properties\":[\"id\"]}\n");
        var words = new[] { "pear", "plum", "fig", "kiwi", "lime", "date", "quince", "ça", "naïve", "東京" };
        for (var id = 1L; id <= 30_000; id++)
        {
            var at = new DateTime(2025, 3, 1, 0, 0, 0, DateTimeKind.Utc).AddDays(random.Next(24)).AddSeconds(random.Next(86_400));
            var note = string.Join(' ', Enumerable.Range(0, random.Next(1, 12)).Select(_ => words[random.Next(words.Length)] + random.Next(1000)));
            var amount = Math.Round(random.NextDouble() * 10_000, 2);
            expected.Add((id, at, note, amount));
            singer.Append("{\"type\":\"RECORD\",\"stream\":\"").Append(id % 2 == 0 ? "left" : "right").Append("\",\"record\":{\"id\":").Append(id)
                .Append(",\"happened\":\"").Append(at.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture))
                .Append("\",\"note\":\"").Append(note).Append("\",\"amount\":").Append(amount.ToString("R", CultureInfo.InvariantCulture)).Append("}}\n");
        }
        var input = Path.Combine(_home.Root, "records.singer");
        File.WriteAllText(input, singer.ToString());
        _home.WritePipeline("pages", $"""
            source:
              tap: bash {Path.Combine(CliProcess.RepoRoot, "bench", "replay-tap.sh")} {input}
            destination:
              bucket: {_home.Bucket}
              path: raw
              compression: zstd
              partition_by: happened
            """);

        var result = CliProcess.Run(_home, "run", "pages", "--output", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var rows = LakeReader.Query(
            $"SELECT id, happened, note, amount FROM read_parquet('{_home.Lake}/raw/*/*/*/*.parquet') ORDER BY id");
        Assert.Equal(expected.Count, rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            var (id, at, note, amount) = expected[i];
            Assert.Equal(id, rows[i][0]);
            Assert.Equal(at, rows[i][1] switch { DateTimeOffset o => o.UtcDateTime, DateTime d => d, var other => throw new InvalidCastException($"at: {other}") });
            Assert.Equal(note, rows[i][2]);
            Assert.Equal(amount, rows[i][3]);
        }
        var files = Directory.GetFiles(Path.Combine(_home.Lake, "raw"), "*.parquet", SearchOption.AllDirectories);
        Assert.Equal(48, files.Length);
    }

    [Fact]
    public void The_parquet_library_binds_to_the_native_binarys_zstd_contexts()
    {
        if (!CliProcess.IsNative) return; // only the native binary carries them; the JIT build uses the library's own
        _home.WriteShopPipeline("shop");
        var trace = Path.Combine(_home.Root, "bindings");
        _home.Set("LD_DEBUG", "bindings").Set("LD_DEBUG_OUTPUT", trace);

        var result = CliProcess.Run(_home, "run", "shop");

        Assert.True(result.ExitCode == 0, result.ToString());
        var bindings = string.Join('\n', Directory.GetFiles(_home.Root, "bindings.*").Select(File.ReadAllText));
        var binary = Path.GetFileName(CliProcess.Command[0]);
        foreach (var symbol in new[] { "ZSTD_createCCtx", "ZSTD_freeCCtx" })
            Assert.Matches($"ParquetSharpNative\\.so \\[0\\] to \\S*/{binary} \\[0\\]: normal symbol `{symbol}'", bindings);
    }
}

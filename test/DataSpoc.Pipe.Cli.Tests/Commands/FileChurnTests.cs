using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// Incremental file taps run by the CLI process while their sources churn: a lake table its writer compacts or merges
/// (read by the <c>parquet</c> tap), and a source file renamed or compressed after a run read it.
/// </summary>
public sealed class FileChurnTests : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    private string Source => Path.Combine(_home.Root, "src");

    private void WriteCsv(string name, int from, int to) =>
        File.WriteAllLines(Path.Combine(Source, name), ["id,v", .. Enumerable.Range(from, to - from + 1).Select(i => $"{i},x{i}")]);

    private System.Text.Json.Nodes.JsonNode Run(params string[] args)
    {
        var run = CliProcess.Run(_home, [.. args, "-o", "json"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        return Json.Parse(run);
    }

    private static List<string> Notices(System.Text.Json.Nodes.JsonNode result) =>
        [.. result["notices"]!.AsArray().Select(n => n!.GetValue<string>())];

    /// <summary>A writer landing 3 csv files (ids 1..300) as <paramref name="format"/>, and a reader of its table folder.</summary>
    private void WriterAndReader(string format, string writeMode = "append", long maxFileRows = 50_000_000)
    {
        Directory.CreateDirectory(Source);
        Writer(format, writeMode, maxFileRows);
        _home.WritePipeline("reader", $$"""
            source:
              tap: parquet
              config: {path: "{{_home.Lake}}/raw/csv/orders/"}
            destination:
              bucket: {{_home.Bucket}}
              path: copy
              partition_by: none
            incremental:
              enabled: true
            """);
        for (var day = 0; day < 3; day++)
        {
            WriteCsv($"day{day}.csv", day * 100 + 1, day * 100 + 100);
            Run("run", "writer");
        }
    }

    /// <summary>The writer's pipeline: <paramref name="maxFileRows"/> also caps the rows of a file its compaction writes.</summary>
    private void Writer(string format, string writeMode = "append", long maxFileRows = 50_000_000) =>
        _home.WritePipeline("writer", $$"""
            source:
              tap: csv
              config: {path: "{{Source}}", streams: [{name: orders, pattern: '*.csv', key_properties: [id]}]}
            destination:
              bucket: {{_home.Bucket}}
              path: raw
              partition_by: none
              table_format: {{format}}
              write_mode: {{writeMode}}
              max_file_rows: {{maxFileRows}}
            incremental:
              enabled: true
            """);

    private List<object?[]> Copy() => LakeReader.Query($"SELECT count(*), count(DISTINCT id) FROM read_parquet('{_home.Lake}/copy/parquet/orders/*.parquet')");

    [Theory]
    [InlineData("iceberg")]
    [InlineData("delta")]
    public void A_compaction_of_a_table_already_read_is_not_read_again(string format)
    {
        WriterAndReader(format);
        Assert.Equal(300, Run("run", "reader").Long("total_records"));
        Run("maintain", "writer", "--compact");

        var after = Run("run", "reader");
        Assert.Equal(0, after.Long("total_records"));
        Assert.Contains(Notices(after), n => n.StartsWith("stream 'orders': ", StringComparison.Ordinal) && n.Contains(" holds only rows of ", StringComparison.Ordinal)
            && n.EndsWith("which an earlier run read (the table rewrote them without changing its rows, as a compaction does): not read again", StringComparison.Ordinal));
        Assert.Equal([[300L, 300L]], Copy());

        // The compacted file is bookmarked: new rows after it land once, and the compaction is not named again.
        WriteCsv("day3.csv", 301, 310);
        Run("run", "writer");
        var next = Run("run", "reader");
        Assert.Equal(10, next.Long("total_records"));
        Assert.DoesNotContain(Notices(next), n => n.Contains("holds only rows", StringComparison.Ordinal));
        Assert.Equal([[310L, 310L]], Copy());
    }

    [Theory]
    [InlineData("iceberg")]
    [InlineData("delta")]
    public void Two_compactions_between_reader_runs_of_rows_already_read_are_not_read_again(string format)
    {
        WriterAndReader(format, maxFileRows: 200);
        Assert.Equal(300, Run("run", "reader").Long("total_records"));
        Run("maintain", "writer", "--compact"); // day0 and day1 into one file (200 rows at most)
        Writer(format, maxFileRows: 1000);
        Run("maintain", "writer", "--compact"); // that file and day2 into one

        // The second compaction's file holds rows of the first's, none of whose rows are new: it is read as nothing new.
        var after = Run("run", "reader");
        Assert.Equal(0, after.Long("total_records"));
        Assert.Contains(Notices(after), n => n.Contains(" holds only rows of ", StringComparison.Ordinal) && n.EndsWith(": not read again", StringComparison.Ordinal));
        Assert.Contains("the source skipped 1 compacted file(s) whose rows an earlier run had already read (the notices above name them) and sent no stream: no row to land", Notices(after));
        Assert.DoesNotContain(Notices(after), n => n.Contains("nothing new to land", StringComparison.Ordinal));
        Assert.Equal([[300L, 300L]], Copy());
    }

    [Theory]
    [InlineData("iceberg", false)]
    [InlineData("delta", false)]
    [InlineData("iceberg", true)]
    public void A_compaction_holding_rows_not_read_yet_lands_only_those_from_the_files_it_replaced(string format, bool twice)
    {
        WriterAndReader(format);
        Assert.Equal(300, Run("run", "reader").Long("total_records"));
        if (twice) Run("maintain", "writer", "--compact");
        WriteCsv("day3.csv", 301, 310);
        Run("run", "writer");
        Run("maintain", "writer", "--compact");

        // Skipping the compacted file would lose ids 301..310, reading it would repeat 1..300: day3's file, still on storage, is read instead.
        var after = Run("run", "reader");
        Assert.Equal(10, after.Long("total_records"));
        Assert.Contains(Notices(after), n => n.EndsWith("which none did (the table rewrote them without changing its rows, as a compaction does): those are read instead (the table still keeps them on storage), so no row lands twice", StringComparison.Ordinal));
        Assert.Equal([[310L, 310L]], Copy());

        // The compacted file counts as read: the next run reads nothing.
        Assert.Equal(0, Run("run", "reader").Long("total_records"));
        Assert.Equal([[310L, 310L]], Copy());
    }

    [Fact]
    public void A_compaction_holding_rows_not_read_yet_whose_files_expired_is_read_whole_and_the_run_log_says_why()
    {
        // A Delta log keeps the compaction's entry (what it replaced) after maintain deleted the replaced files.
        WriterAndReader("delta");
        Assert.Equal(300, Run("run", "reader").Long("total_records"));
        WriteCsv("day3.csv", 301, 310);
        Run("run", "writer");
        Run("maintain", "writer", "--compact");
        Thread.Sleep(50);
        Run("maintain", "writer", "--expire-older-than", "1ms"); // deletes the files the compaction replaced

        // Skipping the compacted file would lose ids 301..310, and day3's own file is gone: it is read whole, and the run log says so.
        var after = Run("run", "reader");
        Assert.Equal(310, after.Long("total_records"));
        Assert.Contains(Notices(after), n => n.Contains(" replaces ", StringComparison.Ordinal)
            && n.Contains("are no longer on storage (maintain expired them), so its rows cannot be told apart", StringComparison.Ordinal)
            && n.EndsWith("and is read whole: an appended table then holds their unchanged rows twice (write_mode: merge with key_properties replaces them instead)", StringComparison.Ordinal));
        Assert.Equal([[610L, 310L]], Copy());
    }

    [Fact]
    public void An_iceberg_compaction_whose_parent_snapshot_expired_is_read_whole_and_the_run_log_says_why()
    {
        // Iceberg names what a replace snapshot removed only through its parent's files: once the parent expired, nothing tells.
        WriterAndReader("iceberg");
        Assert.Equal(300, Run("run", "reader").Long("total_records"));
        WriteCsv("day3.csv", 301, 310);
        Run("run", "writer");
        Run("maintain", "writer", "--compact");
        Thread.Sleep(50);
        Run("maintain", "writer", "--expire-older-than", "1ms"); // expires every snapshot but the compaction's, and the files it replaced

        var after = Run("run", "reader");
        Assert.Equal(310, after.Long("total_records"));
        Assert.Contains(Notices(after), n => n.StartsWith("stream 'orders': ", StringComparison.Ordinal)
            && n.Contains(", operation replace) replaced files of its parent snapshot ", StringComparison.Ordinal)
            && n.Contains("which has expired (maintain --expire-older-than), so which files it replaced is unknown; 3 file(s) (", StringComparison.Ordinal)
            && n.EndsWith("an earlier run read are gone, so it is read whole: an appended table then holds the rows of those it replaced twice (write_mode: merge with " +
                "key_properties replaces them instead) (run this pipeline between a table's compaction and the expiry of the files it replaced)", StringComparison.Ordinal));
        Assert.Equal([[610L, 310L]], Copy());
    }

    [Fact]
    public void A_merge_rewriting_a_file_already_read_is_read_whole_and_the_run_log_says_so()
    {
        WriterAndReader("iceberg", "merge");
        Assert.Equal(300, Run("run", "reader").Long("total_records"));
        File.WriteAllLines(Path.Combine(Source, "update.csv"), ["id,v", "5,changed"]);
        Run("run", "writer");

        var after = Run("run", "reader");
        Assert.Contains(Notices(after), n => n.Contains(" replaces ", StringComparison.Ordinal)
            && n.Contains("(the table rewrote them, e.g. by a merge or overwrite), and is read whole: an appended table then holds their unchanged rows twice", StringComparison.Ordinal));
    }

    [Fact]
    public void A_plain_parquet_compaction_is_read_again_and_the_run_log_says_why()
    {
        WriterAndReader("parquet");
        Assert.Equal(300, Run("run", "reader").Long("total_records"));
        Run("maintain", "writer", "--compact");

        var after = Run("run", "reader");
        Assert.Equal(300, after.Long("total_records"));
        Assert.Contains(Notices(after), n => n.Contains("is a compaction's file of a plain Parquet lake table", StringComparison.Ordinal)
            && n.Contains("a plain table keeps no record of which files a compaction replaced, so it is read whole", StringComparison.Ordinal));
    }

    [Fact]
    public void A_renamed_or_compressed_file_is_read_as_new_and_the_run_log_names_the_file_it_looks_like()
    {
        Directory.CreateDirectory(Source);
        WriteCsv("day1.csv", 1, 100);
        _home.WritePipeline("drops", $$"""
            source:
              tap: csv
              config: {files: ["{{Source}}/*.csv*"], streams: [{name: orders, pattern: '*'}]}
            destination:
              bucket: {{_home.Bucket}}
            incremental:
              enabled: true
            """);
        Run("run", "drops");
        File.Move(Path.Combine(Source, "day1.csv"), Path.Combine(Source, "day1_done.csv"));
        var renamed = Run("run", "drops");
        Assert.Equal(100, renamed.Long("total_records"));
        Assert.Contains($"stream 'orders': {Source}/day1_done.csv is new to this pipeline but looks like {Source}/day1.csv, which an earlier run read " +
            "(renamed, moved or compressed: same size and modification time, or its name without .gz), and is read whole as a new file: " +
            "an appended table then holds those rows twice (write_mode: merge with key_properties replaces them instead)", Notices(renamed));

        var gzip = System.Diagnostics.Process.Start("gzip", Path.Combine(Source, "day1_done.csv"))!;
        gzip.WaitForExit();
        var compressed = Run("run", "drops");
        Assert.Contains(Notices(compressed), n => n.StartsWith($"stream 'orders': {Source}/day1_done.csv.gz is new to this pipeline but looks like {Source}/day1_done.csv,", StringComparison.Ordinal));

        // A genuinely new file is not flagged.
        WriteCsv("day2.csv", 101, 150);
        Assert.DoesNotContain(Notices(Run("run", "drops")), n => n.Contains("looks like", StringComparison.Ordinal));
    }
}

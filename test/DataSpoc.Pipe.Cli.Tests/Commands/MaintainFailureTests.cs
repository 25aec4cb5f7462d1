using System.Diagnostics;
using DataSpoc.Pipe.Cli.Tests.Support;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// <c>maintain --compact</c> whose commit fails after its compacted files landed (the store refuses to delete a file it
/// rewrote): it says so, as a run says it of its own commit, and <c>--output json</c> still prints a document.
/// </summary>
public sealed class MaintainFailureTests : IDisposable
{
    private readonly TempHome _home = new();
    private readonly List<string> _immutable = [];

    public void Dispose()
    {
        foreach (var file in _immutable) Chattr("-i", file);
        _home.Dispose();
    }

    private string Source => Path.Combine(_home.Root, "src");

    private string Table => Path.Combine(_home.Lake, "raw", "csv", "orders");

    /// <summary>Lands one more small file in the table: ids <paramref name="from"/>..<paramref name="from"/>+99.</summary>
    private void RunWith(int from)
    {
        File.WriteAllLines(Path.Combine(Source, $"day{from}.csv"), ["id,v", .. Enumerable.Range(from, 100).Select(i => $"{i},x{i}")]);
        var run = CliProcess.Run(_home, "run", "writer");
        Assert.True(run.ExitCode == 0, run.ToString());
    }

    /// <summary>
    /// Makes a data file impossible to delete, for root too (the tests run as root, whom a read-only folder does not stop):
    /// the immutable attribute of ext4/xfs, as a store that refuses the DELETE of one object.
    /// </summary>
    private void RefuseDeleting(string file)
    {
        Chattr("+i", file);
        _immutable.Add(file);
    }

    private void AllowDeleting(string file)
    {
        Chattr("-i", file);
        _immutable.Remove(file);
    }

    private static void Chattr(string flag, string file)
    {
        using var chattr = Process.Start(new ProcessStartInfo("chattr", [flag, file]) { UseShellExecute = false, RedirectStandardError = true })!;
        var error = chattr.StandardError.ReadToEnd();
        chattr.WaitForExit();
        Assert.True(chattr.ExitCode == 0, $"chattr {flag} {file}: {error}");
    }

    private List<string> DataFiles() => [.. Directory.GetFiles(Table, "*.parquet").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal)];

    [Fact]
    public void A_compaction_whose_commit_fails_after_its_files_landed_says_the_next_maintain_completes_it_and_gives_json()
    {
        Directory.CreateDirectory(Source);
        _home.WritePipeline("writer", $$"""
            source:
              tap: csv
              config: {path: "{{Source}}", streams: [{name: orders, pattern: '*.csv', key_properties: [id]}]}
            destination:
              bucket: {{_home.Bucket}}
              path: raw
              partition_by: none
              write_mode: append
            incremental:
              enabled: true
            """);
        foreach (var from in (int[])[1, 101, 201]) RunWith(from);
        var rewritten = DataFiles();
        Assert.Equal(3, rewritten.Count);
        RefuseDeleting(Path.Combine(Table, rewritten[0]));

        var failed = CliProcess.Run(_home, "maintain", "writer", "--compact");

        Assert.True(failed.ExitCode == 1, failed.ToString());
        Assert.Contains("error: ", failed.Stderr);
        Assert.Contains($"error: permission denied deleting '{Path.Combine(Table, rewritten[0])}'", failed.Stderr);
        // The compacted file landed beside the files it rewrites; the note says so, and who completes it.
        Assert.Contains(DataFiles(), f => !rewritten.Contains(f));
        Assert.Contains("note writer: this maintain's compaction stopped after all its files had landed, before the manifest counted its files in place of "
            + "those they rewrite; the next run or maintain completes it (journal ", failed.Stdout);

        // As the note says: once the store deletes again, the next maintain completes it.
        AllowDeleting(Path.Combine(Table, rewritten[0]));
        var completed = CliProcess.Run(_home, "maintain", "writer", "--compact", "-o", "json");
        Assert.True(completed.ExitCode == 0, completed.ToString());
        Assert.Contains(Json.Parse(completed)["notices"]!.AsArray(), n => n!.GetValue<string>().StartsWith("completed the interrupted commit of run ", StringComparison.Ordinal));
        Assert.Single(DataFiles());
        Assert.Equal([[300L, 300L]], LakeReader.Query($"SELECT count(*), count(DISTINCT id) FROM read_parquet('{Table}/*.parquet')"));

        // --output json: a document, with the error and the same note; then a run completes the commit.
        foreach (var from in (int[])[301, 401]) RunWith(from);
        var small = DataFiles();
        RefuseDeleting(Path.Combine(Table, small[^1]));
        var failedJson = CliProcess.Run(_home, "maintain", "writer", "--compact", "--output", "json");

        Assert.True(failedJson.ExitCode == 1, failedJson.ToString());
        var document = Json.Parse(failedJson);
        Assert.Equal(("writer", "failure", "compact"), (document.Str("pipeline"), document.Str("status"), document.Str("failed_step")));
        Assert.Contains(small[^1], document.Str("error"));
        Assert.Contains(document["notices"]!.AsArray(), n => n!.GetValue<string>().StartsWith("this maintain's compaction stopped after all its files had landed", StringComparison.Ordinal));
        Assert.Contains("error: ", failedJson.Stderr);

        AllowDeleting(Path.Combine(Table, small[^1]));
        RunWith(501);
        Assert.Equal([[600L, 600L]], LakeReader.Query($"SELECT count(*), count(DISTINCT id) FROM read_parquet('{Table}/*.parquet')"));
    }
}

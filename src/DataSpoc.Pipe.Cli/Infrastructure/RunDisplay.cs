using System.Collections.Concurrent;
using System.Globalization;
using DataSpoc.Pipe.Runs;
using Spectre.Console;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// Shows runs in progress: a live per-stream table (records, records/s, files, bytes) on a terminal, plain
/// progress lines otherwise (at most one report per pipeline every few seconds; both name the streams
/// <see cref="RunProgress.StreamsShown"/> picks), nothing for <c>--output json</c>. Stream
/// names come masked from the run (<see cref="RunProgress"/>), as its log shows them.
/// </summary>
internal sealed class RunDisplay
{
    private static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<string, RunProgress> _latest = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastPrinted = new(StringComparer.Ordinal);
    private readonly Mode _mode;

    public enum Mode { Live, Plain, Quiet }

    public RunDisplay(Mode mode) => _mode = mode;

    public static Mode Choose(bool json) => json ? Mode.Quiet : Terminal.StdoutIsTerminal ? Mode.Live : Mode.Plain;

    /// <summary>The progress sink for one pipeline's run.</summary>
    public IProgress<RunProgress>? For(string pipeline) => _mode == Mode.Quiet ? null : new Sink(this, pipeline);

    /// <summary>
    /// <c>&lt;pipeline&gt;: started &lt;UTC time&gt;</c>, before the run takes its lock: a scheduled run's output file
    /// (<c>&lt;home&gt;/logs/&lt;name&gt;.log</c>) then dates every run, one skipped because another held the lock too
    /// (it leaves no run log in the bucket).
    /// </summary>
    public void Started(string pipeline)
    {
        if (_mode == Mode.Plain) Print($"{pipeline}: started {DateTimeOffset.UtcNow:u}");
    }

    /// <summary>
    /// Writes a plain line. A stdout that cannot be written (the disk of a scheduled run's log file is full) must not
    /// stop or fail the run: the lines are dropped from then on, and the report at the end says that the output was lost.
    /// </summary>
    private void Print(string line)
    {
        if (Volatile.Read(ref _outputLost)) return;
        try
        {
            Console.Out.WriteLine(line);
        }
        catch (IOException)
        {
            Volatile.Write(ref _outputLost, true);
        }
    }

    private bool _outputLost;

    /// <summary>Runs <paramref name="work"/> while the live table refreshes (on a terminal), or just runs it.</summary>
    public async Task<T> ShowWhileAsync<T>(Func<Task<T>> work)
    {
        if (_mode != Mode.Live) return await work();
        T result = default!;
        await AnsiConsole.Live(Render()).AutoClear(true).StartAsync(async ctx =>
        {
            var task = work();
            while (!task.IsCompleted)
            {
                await Task.WhenAny(task, Task.Delay(250));
                ctx.UpdateTarget(Render());
            }
            result = await task;
        });
        return result;
    }

    private Table Render()
    {
        var table = new Table().AddColumns("pipeline", "stream", "records", "records/s", "files", "bytes", "elapsed");
        foreach (var (pipeline, p) in _latest.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (p.Streams.Count == 0)
                table.AddRow(Markup.Escape(pipeline), $"[grey]{Markup.Escape(p.Phase)}…[/]", "", "", "", "", Units.Duration(p.Elapsed.TotalSeconds));
            foreach (var s in p.StreamsShown)
                table.AddRow(Markup.Escape(pipeline), Markup.Escape(s.Stream), Units.Count(s.Records), Rate(s.Records, p.Elapsed),
                    Units.Count(s.Files), Units.Bytes(s.Bytes), Units.Duration(p.Elapsed.TotalSeconds));
            if (p.NotShownSummary is { } rest) table.AddRow(Markup.Escape(pipeline), $"[grey]{Markup.Escape(rest)}[/]", "", "", "", "", "");
        }
        return table;
    }

    private static string Rate(long records, TimeSpan elapsed) =>
        elapsed.TotalSeconds < 0.05 ? "-" : (records / elapsed.TotalSeconds).ToString("N0", CultureInfo.InvariantCulture);

    private void Report(string pipeline, RunProgress progress)
    {
        _latest[pipeline] = progress;
        // A tick before the first stream's SCHEMA has nothing to print; counted as printed, it would hold back the first
        // line for a whole interval.
        if (_mode != Mode.Plain || progress.Streams.Count == 0) return;
        var now = DateTimeOffset.UtcNow;
        if (_lastPrinted.TryGetValue(pipeline, out var last) && now - last < PlainInterval) return;
        _lastPrinted[pipeline] = now;
        foreach (var s in progress.StreamsShown)
            Print($"{pipeline}: {s.Stream}: {s.Records} records ({Rate(s.Records, progress.Elapsed)}/s), {s.Files} files, {Units.Bytes(s.Bytes)}");
        if (progress.NotShownSummary is { } rest) Print($"{pipeline}: {rest}");
    }

    private sealed class Sink(RunDisplay display, string pipeline) : IProgress<RunProgress>
    {
        public void Report(RunProgress value) => display.Report(pipeline, value);
    }
}

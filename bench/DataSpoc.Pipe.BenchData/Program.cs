using DataSpoc.Pipe.BenchData;

// Writes a deterministic Singer stream: SCHEMA, N RECORD lines, STATE (per stream for the multi-stream layouts);
// or, for `events-csv`, the events table as CSV.
// Usage: DataSpoc.Pipe.BenchData <shape> <rows> [output-file]   (stdout when no file)
//   shapes: narrow, wide, narrow-undeclared, narrow-reversed, narrow-28days, narrow-2interleaved,
//           narrow-500streams, narrow-500interleaved, events-csv
if (args.Length < 2 || !long.TryParse(args[1], out var rows) || rows < 0)
{
    Console.Error.WriteLine("usage: DataSpoc.Pipe.BenchData <shape> <rows> [output-file]   (shapes: narrow, wide, " +
                            "narrow-undeclared, narrow-reversed, narrow-28days, narrow-2interleaved, narrow-500streams, " +
                            "narrow-500interleaved, events-csv)");
    return 2;
}
Action<Stream> write = args[0] is "events-csv" or "csv"
    ? output => EventsCsv.Write(rows, output)
    : WriteSinger(SingerFile.Parse(args[0]));
Action<Stream> WriteSinger(Layout layout) => output => SingerFile.Write(layout, rows, output);
if (args.Length < 3)
{
    using var stdout = new BufferedStream(Console.OpenStandardOutput(), 1 << 20);
    write(stdout);
    return 0;
}
// Written under a temporary name and renamed, so an interrupted run never leaves a truncated cached input.
var tmp = args[2] + ".tmp";
using (var file = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
    write(file);
File.Move(tmp, args[2], overwrite: true);
return 0;

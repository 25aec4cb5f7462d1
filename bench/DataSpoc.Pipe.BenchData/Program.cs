using DataSpoc.Pipe.BenchData;

// Writes a deterministic Singer stream: one SCHEMA line, N RECORD lines, one STATE line; or, for csv, a CSV file.
// Usage: DataSpoc.Pipe.BenchData <narrow|wide|csv> <rows> [output-file]   (stdout when no file)
if (args.Length < 2 || !long.TryParse(args[1], out var rows) || rows < 0)
{
    Console.Error.WriteLine("usage: DataSpoc.Pipe.BenchData <narrow|wide|csv> <rows> [output-file]");
    return 2;
}
Action<Stream> write = args[0] == "csv" ? output => CsvFile.Write(rows, output) : output => SingerFile.Write(SingerFile.Shape(args[0]), rows, output);
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

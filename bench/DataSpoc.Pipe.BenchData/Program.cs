using DataSpoc.Pipe.BenchData;

// Writes a deterministic Singer stream: one SCHEMA line, N RECORD lines, one STATE line.
// Usage: DataSpoc.Pipe.BenchData <narrow|wide> <rows> [output-file]   (stdout when no file)
if (args.Length < 2 || !long.TryParse(args[1], out var rows) || rows < 0)
{
    Console.Error.WriteLine("usage: DataSpoc.Pipe.BenchData <narrow|wide> <rows> [output-file]");
    return 2;
}
var shape = SingerFile.Shape(args[0]);
if (args.Length < 3)
{
    using var stdout = new BufferedStream(Console.OpenStandardOutput(), 1 << 20);
    SingerFile.Write(shape, rows, stdout);
    return 0;
}
// Written under a temporary name and renamed, so an interrupted run never leaves a truncated cached input.
var tmp = args[2] + ".tmp";
using (var file = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
    SingerFile.Write(shape, rows, file);
File.Move(tmp, args[2], overwrite: true);
return 0;

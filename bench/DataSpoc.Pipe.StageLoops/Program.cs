using System.Diagnostics;
using System.Globalization;
using DataSpoc.Pipe.Benchmarks;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Singer;

// `shred <narrow|wide> [seconds=5]`: the canonical parse + shred stage in a loop, one handler for every pass (its batch
// cleared every 64K rows as a run's lanes do). `encode <narrow|wide> [seconds=5]`: one shredded batch written as a
// zstd Parquet file, again and again. Both print CPU nanoseconds per record.
// `csvtap <file.csv> [typed|json]`: see CsvTapLoop. `sha [rounds]`: see ShaLoop.
if (args is ["csvtap", var csvFile, ..])
    return DataSpoc.Pipe.StageLoops.CsvTapLoop.Run(csvFile, args.Length > 2 ? args[2] : "typed");
if (args is ["sha", ..])
    return DataSpoc.Pipe.StageLoops.ShaLoop.Run(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3);
if (args is not [("shred" or "encode") and var stage, ..])
{
    Console.Error.WriteLine("usage: DataSpoc.Pipe.StageLoops shred|encode [narrow|wide] [seconds] | csvtap <file.csv> [typed|json] | sha [rounds]");
    return 2;
}
var input = new EngineInput(args.Length > 1 ? args[1] : "narrow");
var seconds = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 5;
Action pass;
if (stage == "shred")
{
    var handler = new ShreddingHandler(input.Schema, 65_536);
    pass = () =>
    {
        input.ReadInto(handler);
    };
}
else
{
    var batch = input.ShredAll();
    var path = Path.Combine(Path.GetTempPath(), $"stage-loops-{Environment.ProcessId}.parquet");
    pass = () =>
    {
        using var file = new ParquetBatchFile(path, input.Schema, DataSpoc.Pipe.Config.Compression.Zstd, ParquetBatchFile.ChooseEncodings(batch));
        file.WriteRowGroup(batch);
        file.Close();
    };
    AppDomain.CurrentDomain.ProcessExit += (_, _) => File.Delete(path);
}
pass(); // warm: first-use costs out of the figure
var fileBytes = stage == "encode" ? new FileInfo(Path.Combine(Path.GetTempPath(), $"stage-loops-{Environment.ProcessId}.parquet")).Length : 0;
var clock = Stopwatch.StartNew();
var cpu = Process.GetCurrentProcess().TotalProcessorTime;
var passes = 0;
while (clock.Elapsed.TotalSeconds < seconds)
{
    pass();
    passes++;
}
var cpuNs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds * 1e6;
Console.WriteLine($"{stage} {args.ElementAtOrDefault(1) ?? "narrow"}: {passes} passes of {input.Records:N0} records, " +
                  $"{cpuNs / passes / input.Records:F0} ns CPU a record, {clock.Elapsed.TotalMilliseconds / passes:F1} ms wall a pass" +
                  (fileBytes > 0 ? $", file {fileBytes:N0} bytes" : ""));
return 0;

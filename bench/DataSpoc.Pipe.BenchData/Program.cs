using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using DataSpoc.Pipe.BenchData;

// Writes a deterministic Singer stream: one SCHEMA line, N RECORD lines, one STATE line.
// Usage: DataSpoc.Pipe.BenchData <narrow|wide> <rows> [output-file]   (stdout when no file)
if (args.Length < 2 || !long.TryParse(args[1], out var rows) || rows < 0)
{
    Console.Error.WriteLine("usage: DataSpoc.Pipe.BenchData <narrow|wide> <rows> [output-file]");
    return 2;
}
IShape shape = args[0] switch
{
    "narrow" => new NarrowShape(),
    "wide" => new WideShape(),
    _ => throw new ArgumentException($"unknown shape '{args[0]}' (narrow or wide)"),
};

// One fixed seed per shape: the same arguments always give the same bytes.
var rng = new SplitMix64(args[0] == "narrow" ? 0x5EED_0001UL : 0x5EED_0002UL);
var jsonOptions = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };
var buffer = new ArrayBufferWriter<byte>(64 * 1024);
using var json = new Utf8JsonWriter(buffer, jsonOptions);
var tmp = args.Length > 2 ? args[2] + ".tmp" : null;
using (var output = tmp is null ? Console.OpenStandardOutput() : new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
{
    var stream = shape.StreamName;
    var recordPrefix = Encoding.UTF8.GetBytes($"{{\"type\":\"RECORD\",\"stream\":\"{stream}\",\"record\":");
    var recordSuffix = "}\n"u8.ToArray();

    output.Write(Encoding.UTF8.GetBytes($"{{\"type\":\"SCHEMA\",\"stream\":\"{stream}\",\"schema\":"));
    shape.WriteSchema(json);
    json.Flush();
    output.Write(buffer.WrittenSpan);
    output.Write(",\"key_properties\":[\"id\"]}\n"u8);

    for (long i = 0; i < rows; i++)
    {
        buffer.ResetWrittenCount();
        json.Reset(buffer);
        shape.WriteRecord(json, ref rng, i);
        json.Flush();
        output.Write(recordPrefix);
        output.Write(buffer.WrittenSpan);
        output.Write(recordSuffix);
    }
    output.Write(Encoding.UTF8.GetBytes($"{{\"type\":\"STATE\",\"value\":{{\"bookmarks\":{{\"{stream}\":{{\"last_id\":{rows}}}}}}}}}\n"));
}
// Written under a temporary name and renamed, so an interrupted run never leaves a truncated cached input.
if (tmp is not null) File.Move(tmp, args[2], overwrite: true);
return 0;

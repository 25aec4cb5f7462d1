using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace DataSpoc.Pipe.BenchData;

/// <summary>Writes a shape as a Singer stream: one SCHEMA line, N RECORD lines, one STATE line; same bytes for the same arguments.</summary>
public static class SingerFile
{
    public static IShape Shape(string name) => name switch
    {
        "narrow" => new NarrowShape(),
        "wide" => new WideShape(),
        _ => throw new ArgumentException($"unknown shape '{name}' (narrow or wide)"),
    };

    /// <summary>One fixed seed per shape (the benchmarks rebuild the narrow values from the same seed).</summary>
    public static ulong SeedOf(IShape shape) => shape is NarrowShape ? 0x5EED_0001UL : 0x5EED_0002UL;

    public static void Write(IShape shape, long rows, Stream output)
    {
        var rng = new SplitMix64(SeedOf(shape));
        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        // Relaxed escaping: '+' in offsets and '&' in URLs stay as they are, as taps print them.
        using var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true });
        var stream = shape.StreamName;
        var recordPrefix = Encoding.UTF8.GetBytes($"{{\"type\":\"RECORD\",\"stream\":\"{stream}\",\"record\":");

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
            output.Write("}\n"u8);
        }
        output.Write(Encoding.UTF8.GetBytes($"{{\"type\":\"STATE\",\"value\":{{\"bookmarks\":{{\"{stream}\":{{\"last_id\":{rows}}}}}}}}}\n"));
    }
}

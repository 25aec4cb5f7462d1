using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace DataSpoc.Pipe.BenchData;

/// <summary>Writes a shape as a Singer stream: one SCHEMA line, N RECORD lines, one STATE line; same bytes for the same arguments.</summary>
public static class SingerFile
{
    /// <summary>
    /// A shape and how its records are spread over streams: <c>narrow</c>, <c>wide</c>, and the variations of the
    /// narrow records that issue #23 times (<c>narrow-undeclared</c>, <c>narrow-reversed</c>, <c>narrow-28days</c>,
    /// <c>narrow-2interleaved</c>, <c>narrow-500streams</c>, <c>narrow-500interleaved</c>).
    /// </summary>
    public static Layout Parse(string name) => name switch
    {
        "narrow" => new(new NarrowShape()),
        "wide" => new(new WideShape()),
        "narrow-undeclared" => new(new NarrowShape(undeclared: true)),
        "narrow-reversed" => new(new NarrowShape(reversed: true)),
        "narrow-28days" => new(new NarrowShape(days: 28)),
        "narrow-2interleaved" => new(new NarrowShape(), Streams: 2, Interleaved: true),
        "narrow-500streams" => new(new NarrowShape(), Streams: 500),
        "narrow-500interleaved" => new(new NarrowShape(), Streams: 500, Interleaved: true),
        _ => throw new ArgumentException($"unknown shape '{name}' (narrow, wide, narrow-undeclared, narrow-reversed, " +
                                         "narrow-28days, narrow-2interleaved, narrow-500streams, narrow-500interleaved)"),
    };

    public static IShape Shape(string name) => Parse(name).Shape;

    /// <summary>One fixed seed per shape (the benchmarks rebuild the narrow values from the same seed).</summary>
    public static ulong SeedOf(IShape shape) => shape is NarrowShape ? 0x5EED_0001UL : 0x5EED_0002UL;

    public static void Write(IShape shape, long rows, Stream output) => Write(new Layout(shape), rows, output);

    /// <summary>
    /// With one stream: SCHEMA, the records, STATE. With several (<c>orders_0</c>, <c>orders_1</c>, …), record i goes
    /// to stream <c>i % streams</c> when interleaved (every SCHEMA first), else the records are cut into consecutive
    /// runs of equal size, one stream after another (each SCHEMA right before its stream's first record), as a tap
    /// syncing many tables prints them. The records' values are the same in every layout.
    /// </summary>
    public static void Write(Layout layout, long rows, Stream output)
    {
        var shape = layout.Shape;
        var rng = new SplitMix64(SeedOf(shape));
        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        // Relaxed escaping: '+' in offsets and '&' in URLs stay as they are, as taps print them.
        using var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true });
        var streams = Math.Max(1, layout.Streams);
        var names = streams == 1 ? [shape.StreamName] : Enumerable.Range(0, streams).Select(k => $"{shape.StreamName}_{k}").ToArray();
        var recordPrefixes = names.Select(n => Encoding.UTF8.GetBytes($"{{\"type\":\"RECORD\",\"stream\":\"{n}\",\"record\":")).ToArray();
        var perStream = Math.Max(1, (rows + streams - 1) / streams);

        void WriteSchema(string stream)
        {
            buffer.ResetWrittenCount();
            json.Reset(buffer);
            output.Write(Encoding.UTF8.GetBytes($"{{\"type\":\"SCHEMA\",\"stream\":\"{stream}\",\"schema\":"));
            shape.WriteSchema(json);
            json.Flush();
            output.Write(buffer.WrittenSpan);
            output.Write(",\"key_properties\":[\"id\"]}\n"u8);
        }

        if (streams == 1 || layout.Interleaved)
            foreach (var name in names) WriteSchema(name);
        for (long i = 0; i < rows; i++)
        {
            var k = streams == 1 ? 0 : layout.Interleaved ? (int)(i % streams) : (int)(i / perStream);
            if (streams > 1 && !layout.Interleaved && i % perStream == 0) WriteSchema(names[k]);
            buffer.ResetWrittenCount();
            json.Reset(buffer);
            shape.WriteRecord(json, ref rng, i);
            json.Flush();
            output.Write(recordPrefixes[k]);
            output.Write(buffer.WrittenSpan);
            output.Write("}\n"u8);
        }
        var bookmarks = string.Join(',', names.Select(n => $"\"{n}\":{{\"last_id\":{rows}}}"));
        output.Write(Encoding.UTF8.GetBytes($"{{\"type\":\"STATE\",\"value\":{{\"bookmarks\":{{{bookmarks}}}}}}}\n"));
    }
}

/// <summary>A shape's records and the streams they are spread over (see <see cref="SingerFile.Write(Layout, long, Stream)"/>).</summary>
public sealed record Layout(IShape Shape, int Streams = 1, bool Interleaved = false);

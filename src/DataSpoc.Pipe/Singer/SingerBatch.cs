using System.Text.Json;

namespace DataSpoc.Pipe.Singer;

/// <summary>
/// A Singer SDK <c>BATCH</c> message: instead of RECORD lines, a manifest of files that hold a stream's records
/// (<c>{"type": "BATCH", "stream": "users", "encoding": {"format": "jsonl", "compression": "gzip"}, "manifest": ["file:///…"]}</c>).
/// </summary>
/// <param name="Format"><c>jsonl</c> (one record object per line) or <c>parquet</c>.</param>
/// <param name="Compression"><c>gzip</c>, or null for none (Parquet files compress inside).</param>
/// <param name="Manifest">The files, as URLs (<c>file://</c>, <c>s3://</c>, <c>gs://</c>, <c>az://</c>) or local paths.</param>
internal sealed record SingerBatch(string Format, string? Compression, IReadOnlyList<string> Manifest)
{
    public static readonly string[] Formats = ["jsonl", "parquet"];

    /// <summary>Reads a BATCH message's encoding and manifest; what is missing or unknown is a protocol error on its line.</summary>
    public static SingerBatch Parse(JsonElement message, string stream, long line)
    {
        if (!message.TryGetProperty("encoding", out var encoding) || encoding.ValueKind != JsonValueKind.Object
            || !encoding.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.String)
            throw new SingerProtocolException(line, "BATCH message has no \"encoding\": {\"format\": ...}", stream);
        var formatName = format.GetString()!;
        if (!Formats.Contains(formatName, StringComparer.Ordinal))
            throw new SingerProtocolException(line, $"BATCH encoding format '{formatName}' is not supported (supported: {string.Join(", ", Formats)})", stream);
        string? compression = null;
        if (encoding.TryGetProperty("compression", out var c) && c.ValueKind == JsonValueKind.String && c.GetString() is { } name && name != "none")
        {
            if (name != "gzip") throw new SingerProtocolException(line, $"BATCH compression '{name}' is not supported (supported: gzip, none)", stream);
            compression = name;
        }
        if (!message.TryGetProperty("manifest", out var manifest) || manifest.ValueKind != JsonValueKind.Array)
            throw new SingerProtocolException(line, "BATCH message has no \"manifest\" list of files", stream);
        var files = new List<string>();
        foreach (var file in manifest.EnumerateArray())
        {
            if (file.ValueKind != JsonValueKind.String || file.GetString() is not { Length: > 0 } url)
                throw new SingerProtocolException(line, "BATCH manifest entries must be file URLs", stream);
            files.Add(url);
        }
        return new SingerBatch(formatName, compression, files);
    }
}

/// <summary>One record object of a BATCH file (no Singer envelope), with its 1-based number in the file (its line, for jsonl).</summary>
internal delegate void BatchRecordHandler(ReadOnlySpan<byte> record, long number);

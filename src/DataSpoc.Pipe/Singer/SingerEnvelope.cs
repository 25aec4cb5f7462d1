using System.Text.Json;

namespace DataSpoc.Pipe.Singer;

/// <summary>
/// The envelope of a RECORD message in the canonical shape most taps write,
/// <c>{"type": "RECORD", "stream": "name", "record": {…}…}</c>: where the stream name and the record object lie in the
/// line, and whether what follows the record completes the message. The engine's fast path scans a record straight from
/// these spans; any line that is not in this shape goes through <see cref="SingerMessageReader"/>.
/// </summary>
internal static class SingerEnvelope
{
    /// <summary>
    /// The message's <c>type</c> (when it is a word in capitals, as Singer's are) and <c>stream</c>, from the first bytes
    /// of a line that may be cut off anywhere (one too long to read whole); null for either the bytes do not give.
    /// </summary>
    public static (string? Type, string? Stream) PeekTypeAndStream(ReadOnlySpan<byte> start)
    {
        string? type = null, stream = null;
        var reader = new Utf8JsonReader(start[..Math.Min(start.Length, 1 << 16)], isFinalBlock: false, state: default);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return (null, null);
            while ((type is null || stream is null) && reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var member = reader.ValueTextEquals("type"u8) ? 1 : reader.ValueTextEquals("stream"u8) ? 2 : 0;
                if (!reader.Read()) break;
                if (reader.TokenType == JsonTokenType.String)
                {
                    if (member == 1) type ??= reader.GetString();
                    else if (member == 2) stream ??= reader.GetString();
                }
                else if (!reader.TrySkip()) break;
            }
        }
        catch (JsonException) { }
        return (type is { Length: > 0 and <= 20 } && type.All(char.IsAsciiLetterUpper) ? type : null, stream);
    }

    /// <summary>Matches <c>{"type": "RECORD", "stream": "name", "record": {</c> with any JSON whitespace between tokens.</summary>
    public static bool TryCanonical(ReadOnlySpan<byte> line, out ReadOnlySpan<byte> stream, out int recordStart)
    {
        stream = default;
        recordStart = 0;
        var p = 0;
        if (line.StartsWith("{\"type\":\"RECORD\",\"stream\":\""u8))
        {
            // Compact JSON (most taps): the whole envelope in two comparisons.
            p = "{\"type\":\"RECORD\",\"stream\":\""u8.Length;
            var end = line[p..].IndexOfAny((byte)'"', (byte)'\\');
            if (end >= 0 && line[p + end] == '"' && line[(p + end)..].StartsWith("\",\"record\":{"u8))
            {
                stream = line.Slice(p, end);
                recordStart = p + end + "\",\"record\":"u8.Length;
                return !stream.ContainsAnyInRange((byte)0, (byte)0x1F);
            }
            p = 0;
        }
        if (!Token(line, ref p, "{"u8) || !Token(line, ref p, "\"type\""u8) || !Token(line, ref p, ":"u8) || !Token(line, ref p, "\"RECORD\""u8)
            || !Token(line, ref p, ","u8) || !Token(line, ref p, "\"stream\""u8) || !Token(line, ref p, ":"u8) || !Token(line, ref p, "\""u8))
            return false;
        var close = line[p..].IndexOfAny((byte)'"', (byte)'\\');
        if (close < 0 || line[p + close] != '"') return false;
        stream = line.Slice(p, close);
        if (stream.ContainsAnyInRange((byte)0, (byte)0x1F)) return false;
        p += close + 1;
        if (!Token(line, ref p, ","u8) || !Token(line, ref p, "\"record\""u8) || !Token(line, ref p, ":"u8)) return false;
        SkipSpace(line, ref p);
        recordStart = p;
        return p < line.Length && line[p] == '{';
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static bool Token(ReadOnlySpan<byte> line, ref int p, ReadOnlySpan<byte> token)
    {
        SkipSpace(line, ref p);
        if (!line[p..].StartsWith(token)) return false;
        p += token.Length;
        return true;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void SkipSpace(ReadOnlySpan<byte> line, ref int p)
    {
        if (p >= line.Length || line[p] > ' ') return;
        while (p < line.Length && line[p] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') p++;
    }

    /// <summary>
    /// Whether what follows a canonical RECORD's record object (which ended just before <paramref name="recordEnd"/>)
    /// completes the message as valid JSON: the closing brace, or further members (e.g. "time_extracted") and then it.
    /// </summary>
    public static bool IsCompleteAfterRecord(ReadOnlySpan<byte> line, int recordEnd)
    {
        var p = recordEnd;
        SkipSpace(line, ref p);
        if (p >= line.Length) return false;
        if (line[p] == '}')
        {
            p++;
            SkipSpace(line, ref p);
            return p == line.Length;
        }
        if (line[p] != ',') return false;
        p++;
        SkipSpace(line, ref p);
        if (p >= line.Length || line[p] != '"') return false;
        // The remaining members, read as an object of their own: "{" + what follows the comma.
        var rest = line[p..];
        var buffer = rest.Length < 512 ? stackalloc byte[rest.Length + 1] : new byte[rest.Length + 1];
        buffer[0] = (byte)'{';
        rest.CopyTo(buffer[1..]);
        try
        {
            var r = new Utf8JsonReader(buffer, new JsonReaderOptions { MaxDepth = SingerMessageReader.MaxDepth });
            while (r.Read())
            {
                if (r.TokenType != JsonTokenType.PropertyName) continue;
                // A second "record" (or "stream", "type"): the full path refuses the message.
                if (r.ValueTextEquals("record"u8) || r.ValueTextEquals("stream"u8) || r.ValueTextEquals("type"u8)) return false;
                r.Read();
                r.Skip();
            }
            return r.CurrentDepth == 0 && r.TokenType == JsonTokenType.EndObject;
        }
        catch (JsonException)
        {
            return false;
        }
    }

}

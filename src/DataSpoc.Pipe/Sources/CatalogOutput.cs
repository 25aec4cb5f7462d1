using System.Text;
using System.Text.Json;
using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Sources;

/// <summary>
/// Reads a tap's <c>--discover</c> output as it arrives, up to the end of its catalog. A catalog is one JSON value; a
/// tap that mistakes <c>--discover</c> for a run prints its data instead, and reading that whole before the parse fails
/// held gigabytes. So the read stops, and the tap is stopped, at more output after one complete JSON value or at more
/// than <see cref="MaxBytes"/>: a <see cref="ConfigException"/> naming the output (<c>origin</c>) and its line. Text
/// that is not JSON is kept up to where it goes wrong and the rest is read without being kept: a tap that fails
/// often prints a line or two there before it exits, and its exit code and stderr say more than the parse would.
/// </summary>
internal static class CatalogOutput
{
    /// <summary>The largest catalog read: far above a database of thousands of tables (tens of MB), far below memory.</summary>
    public const int MaxBytes = 256 << 20;

    /// <summary>
    /// The catalog's text from <paramref name="stdout"/> (read to its end when only whitespace follows the value).
    /// <paramref name="stop"/> is called before an early failure, so that the tap does not go on printing into a pipe
    /// nobody reads.
    /// </summary>
    public static async Task<string> ReadAsync(Stream stdout, string origin, int maxBytes, Action stop, CancellationToken cancellationToken)
    {
        var buffer = new byte[Math.Min(64 * 1024, maxBytes)];
        var filled = 0;
        var scanned = 0; // bytes the JSON scan has consumed; it resumes from there with its state
        var end = -1; // where the catalog's value ends, once it has
        var state = new JsonReaderState(new JsonReaderOptions { MaxDepth = 1024 });
        var notJson = false;
        while (true)
        {
            if (notJson)
            {
                // What was kept already holds the error; the rest is drained so that the tap can finish and say why.
                var rest = new byte[16 * 1024];
                while (await stdout.ReadAsync(rest, cancellationToken).ConfigureAwait(false) > 0) { }
                break;
            }
            if (filled == buffer.Length)
            {
                if (buffer.Length >= maxBytes)
                {
                    stop();
                    throw new ConfigException(
                        $"the tap's catalog is larger than {maxBytes >> 20} MiB, the most read: does the tap print its data when asked --discover?",
                        origin);
                }
                Array.Resize(ref buffer, (int)Math.Min((long)buffer.Length * 2, maxBytes));
            }
            var read = await stdout.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (read == 0) break;
            filled += read;
            if (end < 0)
            {
                if (scanned == 0 && filled >= 3 && buffer.AsSpan(0, 3).SequenceEqual("\uFEFF"u8)) scanned = 3;
                end = Scan(buffer.AsSpan(0, filled), ref scanned, ref state);
                notJson = end == NotJson;
                if (notJson) end = -1;
            }
            if (end >= 0 && buffer.AsSpan(end, filled - end).IndexOfAnyExcept(" \t\r\n"u8) is var more and >= 0)
            {
                stop();
                throw new ConfigException(
                    "the tap's catalog (one JSON value) is followed by more output: does the tap print its data when asked --discover?",
                    origin, LineOf(buffer.AsSpan(0, end + more)));
            }
        }
        var bom = filled >= 3 && buffer.AsSpan(0, 3).SequenceEqual("\uFEFF"u8) ? 3 : 0;
        return Encoding.UTF8.GetString(buffer, bom, filled - bom);
    }

    private const int NotJson = -2;

    /// <summary>
    /// Reads the tokens that arrived: the offset where the top-level value ends, -1 while it goes on, or
    /// <see cref="NotJson"/>.
    /// </summary>
    private static int Scan(ReadOnlySpan<byte> text, ref int scanned, ref JsonReaderState state)
    {
        var reader = new Utf8JsonReader(text[scanned..], isFinalBlock: false, state);
        try
        {
            while (reader.Read())
            {
                // A value at depth 0 that is not a container's start is complete: the catalog's closing brace, or a
                // scalar (not a catalog; the parse says so).
                if (reader.CurrentDepth == 0 && reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray))
                    return scanned + (int)reader.BytesConsumed;
            }
        }
        catch (JsonException)
        {
            return NotJson;
        }
        scanned += (int)reader.BytesConsumed;
        state = reader.CurrentState;
        return -1;
    }

    private static int LineOf(ReadOnlySpan<byte> before) => before.Count((byte)'\n') + 1;
}

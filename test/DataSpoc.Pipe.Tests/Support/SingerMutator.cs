using System.Text;
using System.Text.Json;

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>
/// Seeded mutations of a Singer stream (one byte array per line): bytes flipped, lines cut, duplicated, reordered or
/// deleted, values nested deeper, numbers and strings replaced by values at their limits, blank lines, a BOM, CRLF.
/// Each mutation is described, so a failing input can be understood as well as replayed from its seed.
/// </summary>
public sealed class SingerMutator(int seed)
{
    private readonly Random _random = new(seed);

    private static readonly string[] Numbers =
    [
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "18446744073709551616",
        "1e309", "-1e309", "1e-400", "5e-324", "1.7976931348623157e308", "-0", "0.0", "1E+2", "0.1e1",
        "123456789012345678901234567890.123456789", "99999999999999999999999999999999999999.99", "0.0000000000000000000000000001",
        "12345678901234567890123456.78", "1.005", "3.14159265358979323846264338327950288419716939937510",
    ];

    private static readonly string[] Strings =
    [
        "\"\"", "\"\\ud800\"", "\"\\udc00 lone low\"", "\"\\u0000\"", "\"😀\"", "\"\\ud83d\\ude00\"", "\"caf\\u00e9\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
        "\"2024-02-30\"", "\"9999-12-31T23:59:59-14:00\"", "\"0001-01-01T00:00:00+14:00\"", "\"24:00:00\"", "\"10000-01-01\"",
        "\"0000-01-01T00:00:00Z\"", "\"2024-01-01T10:00:00.1234567891Z\"", "\"1e3\"", "\"true\"", "\"null\"",
    ];

    /// <summary>Applies 1 to 3 mutations and returns the new stream as bytes, with what was done.</summary>
    public (byte[] Bytes, List<string> Done) Mutate(IReadOnlyList<byte[]> original)
    {
        var lines = original.Select(l => l.ToArray()).ToList();
        var done = new List<string>();
        var newline = "\n"u8.ToArray();
        var cutAt = -1;
        var count = 1 + _random.Next(3);
        for (var m = 0; m < count && lines.Count > 0; m++)
        {
            var i = _random.Next(lines.Count);
            switch (_random.Next(12))
            {
                case 0:
                {
                    if (lines[i].Length == 0) goto case 3;
                    var at = _random.Next(lines[i].Length);
                    var bit = 1 << _random.Next(8);
                    lines[i][at] ^= (byte)bit;
                    done.Add($"line {i + 1}: byte {at} xor 0x{bit:X2}");
                    break;
                }
                case 1:
                {
                    var at = _random.Next(lines[i].Length + 1);
                    lines[i] = lines[i][..at];
                    done.Add($"line {i + 1}: cut at byte {at}");
                    break;
                }
                case 2:
                {
                    var to = _random.Next(lines.Count + 1);
                    lines.Insert(to, lines[i].ToArray());
                    done.Add($"line {i + 1}: duplicated at {to + 1}");
                    break;
                }
                case 3:
                {
                    var j = _random.Next(lines.Count);
                    (lines[i], lines[j]) = (lines[j], lines[i]);
                    done.Add($"lines {i + 1} and {j + 1} swapped");
                    break;
                }
                case 4:
                    lines.RemoveAt(i);
                    done.Add($"line {i + 1}: deleted");
                    break;
                case 5 or 6:
                    done.Add(NestDeeper(lines, i));
                    break;
                case 7 or 8:
                    done.Add(ReplaceToken(lines, i, JsonTokenType.Number, Numbers));
                    break;
                case 9 or 10:
                    done.Add(ReplaceToken(lines, i, JsonTokenType.String, Strings));
                    break;
                default:
                    switch (_random.Next(5))
                    {
                        case 0: lines.Insert(i, []); done.Add($"blank line before {i + 1}"); break;
                        case 1: lines[0] = [0xEF, 0xBB, 0xBF, .. lines[0]]; done.Add("byte order mark"); break;
                        case 2: newline = "\r\n"u8.ToArray(); done.Add("CRLF line ends"); break;
                        case 3: lines[i] = [.. lines[i], .. "  \t"u8]; done.Add($"line {i + 1}: trailing spaces"); break;
                        default: lines[i] = [.. Encoding.UTF8.GetBytes(new string(' ', 1 + _random.Next(3))), .. lines[i]]; done.Add($"line {i + 1}: leading spaces"); break;
                    }
                    break;
            }
            if (_random.Next(40) == 0) cutAt = _random.Next(1 + lines.Sum(l => l.Length + newline.Length));
        }
        var bytes = new List<byte>();
        foreach (var line in lines)
        {
            bytes.AddRange(line);
            bytes.AddRange(newline);
        }
        if (cutAt >= 0 && cutAt < bytes.Count)
        {
            bytes.RemoveRange(cutAt, bytes.Count - cutAt);
            done.Add($"input cut at byte {cutAt}");
        }
        return (bytes.ToArray(), done);
    }

    /// <summary>Wraps one value of a line in 1 to 5,000 levels of arrays or objects.</summary>
    private string NestDeeper(List<byte[]> lines, int i)
    {
        var values = Tokens(lines[i], t => t is JsonTokenType.StartObject or JsonTokenType.StartArray or JsonTokenType.String or JsonTokenType.Number
            or JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null, minDepth: 2);
        if (values.Count == 0) return $"line {i + 1}: nothing to nest";
        var (start, end) = values[_random.Next(values.Count)];
        var depth = new[] { 1, 2, 3, 10, 64, 65, 100, 1000, 5000 }[_random.Next(9)];
        var asObject = _random.Next(2) == 0;
        var open = asObject ? string.Concat(Enumerable.Repeat("{\"x\":", depth)) : new string('[', depth);
        var close = new string(asObject ? '}' : ']', depth);
        lines[i] = [.. lines[i][..start], .. Encoding.UTF8.GetBytes(open), .. lines[i][start..end], .. Encoding.UTF8.GetBytes(close), .. lines[i][end..]];
        return $"line {i + 1}: value at byte {start} nested {depth} deep in {(asObject ? "objects" : "arrays")}";
    }

    /// <summary>Replaces one number or string token of a line by a value at a limit (or, for strings, very long or invalid UTF-8).</summary>
    private string ReplaceToken(List<byte[]> lines, int i, JsonTokenType type, string[] choices)
    {
        var tokens = Tokens(lines[i], t => t == type, minDepth: 1);
        if (tokens.Count == 0) return $"line {i + 1}: no {type} to replace";
        var (start, end) = tokens[_random.Next(tokens.Count)];
        byte[] replacement;
        if (type == JsonTokenType.String && _random.Next(4) == 0)
        {
            replacement = _random.Next(4) switch
            {
                0 => Encoding.UTF8.GetBytes("\"" + new string('x', 70_000) + "\""),
                1 => Encoding.UTF8.GetBytes("\"" + string.Concat(Enumerable.Repeat("\\n\\u00e9", 5_000)) + "\""),
                2 => [(byte)'"', (byte)'a', 0xC3, 0x28, (byte)'"'],
                _ => [(byte)'"', 0x01, (byte)'"'],
            };
        }
        else replacement = Encoding.UTF8.GetBytes(choices[_random.Next(choices.Length)]);
        lines[i] = [.. lines[i][..start], .. replacement, .. lines[i][end..]];
        return $"line {i + 1}: {type} at byte {start} replaced by {Shorten(Encoding.UTF8.GetString(replacement))}";
    }

    /// <summary>Start and end byte offsets of the tokens (values, with their contents for containers) a predicate picks.</summary>
    private static List<(int Start, int End)> Tokens(byte[] line, Func<JsonTokenType, bool> pick, int minDepth)
    {
        var found = new List<(int, int)>();
        try
        {
            var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 10_000 });
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName || reader.CurrentDepth < minDepth || !pick(reader.TokenType)) continue;
                var start = (int)reader.TokenStartIndex;
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                {
                    var copy = reader;
                    copy.Skip();
                    found.Add((start, (int)copy.BytesConsumed));
                }
                else found.Add((start, (int)reader.BytesConsumed));
            }
        }
        catch (JsonException)
        {
            // A line an earlier mutation broke: the tokens read so far are still whole.
        }
        return found;
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + $"… ({text.Length} chars)";
}

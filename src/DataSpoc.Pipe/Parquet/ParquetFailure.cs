using System.Text.Json;
using System.Text.RegularExpressions;
using ParquetSharp;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// What a failure to read a Parquet file's rows tells the user. ParquetSharp's messages start with the C++ exception's
/// mangled type name (<c>N7parquet16ParquetExceptionE (message: 'Unexpected end of stream')</c>); only the quoted part
/// means anything outside the library, and a failure there means the file's bytes are damaged (the footer was read).
/// </summary>
internal static partial class ParquetFailure
{
    /// <summary>Whether <paramref name="e"/> is a value or a file that cannot be read (not a bug of ours, not a cancellation).</summary>
    public static bool IsUnreadable(Exception e) => e is ParquetException or OverflowException or InvalidDataException or JsonException or ArgumentException;

    /// <summary>The reason of an <see cref="IsUnreadable"/> failure, without the library's type names.</summary>
    public static string Reason(Exception e) => e is ParquetException parquet ? "the file is damaged: " + LibraryMessage(parquet) : e.Message;

    /// <summary>ParquetSharp's message without the mangled type name.</summary>
    public static string LibraryMessage(ParquetException e) => Mangled().Match(e.Message) is { Success: true } m ? m.Groups[1].Value : e.Message;

    /// <summary>
    /// A failure of the library's own file writes (Arrow's <c>IOError: Error writing bytes to file. Detail: [errno 28] No
    /// space left on device</c>) as the exception .NET would have thrown for it: its HResult is the errno. Null for others.
    /// </summary>
    public static IOException? AsIOException(ParquetException e) =>
        SystemError().Match(LibraryMessage(e)) is { Success: true } m && int.TryParse(m.Groups[1].ValueSpan, out var errno)
            ? new IOException(m.Groups[2].Value, errno)
            : null;

    [GeneratedRegex(@"^N\d+\w+E \(message: '(.*)'\)$", RegexOptions.Singleline)]
    private static partial Regex Mangled();

    [GeneratedRegex(@"^IOError: .*\[errno (\d+)\] (.*)$", RegexOptions.Singleline)]
    private static partial Regex SystemError();
}

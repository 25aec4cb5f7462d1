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

    [GeneratedRegex(@"^N\d+\w+E \(message: '(.*)'\)$", RegexOptions.Singleline)]
    private static partial Regex Mangled();
}

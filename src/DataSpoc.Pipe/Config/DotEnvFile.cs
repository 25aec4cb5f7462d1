using System.Runtime.InteropServices;
using System.Text;

namespace DataSpoc.Pipe.Config;

/// <summary>
/// The home's private <c>.env</c>: <c>KEY=value</c> lines (optionally <c>export KEY=value</c>), values bare, in single
/// quotes (taken literally) or in double quotes (<c>\n \r \t \" \\</c> escapes), <c>#</c> comments on their own line or
/// after a value. Values are taken as written: no <c>${VAR}</c> inside them. The file holds secrets, so it is refused
/// unless it belongs to the current user and neither group nor others may read or write it. Errors name the file and
/// line, never a value.
/// </summary>
public sealed partial class DotEnvFile
{
    /// <summary>One <c>KEY=value</c> assignment; <see cref="Start"/>..<see cref="End"/> is its text (without the line break).</summary>
    private sealed record Entry(string Key, string Value, int Line, int Start, int End);

    private readonly List<Entry> _entries;

    private DotEnvFile(string path, string text, List<Entry> entries)
    {
        Path = path;
        Text = text;
        _entries = entries;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        // As a shell sourcing the file would: a key assigned twice takes its last value.
        foreach (var e in entries) values[e.Key] = e.Value;
        Values = values;
    }

    public string Path { get; }

    /// <summary>The file's text as read.</summary>
    private string Text { get; }

    /// <summary>Every key and its value.</summary>
    public IReadOnlyDictionary<string, string> Values { get; }

    /// <summary>
    /// Reads <paramref name="path"/> after checking that it is private to the current user; a missing file is an
    /// empty one. Throws <see cref="ConfigException"/> for a file others can read or write, a symbolic link to a missing
    /// file, a directory, or a syntax error.
    /// </summary>
    public static DotEnvFile Read(string path)
    {
        // A .env that is there but cannot be a file of variables is an error, never "no variables": the user would be
        // told to add a variable to a .env they can see (a secrets mount not there yet leaves a dangling link).
        if (Directory.Exists(path))
            throw new ConfigException("is a directory, not a file of KEY=value lines: refused; remove it or replace it with a file", path);
        if (new FileInfo(path).LinkTarget is { } target && !File.Exists(File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? path))
            throw new ConfigException($"is a symbolic link to a missing file ({target}): refused; create or mount the file it points to, or remove the link", path);
        if (!File.Exists(path)) return new DotEnvFile(path, "", []);
        string text;
        try
        {
            CheckPrivate(path);
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException("cannot read: " + e.Message, path, inner: e);
        }
        return Parse(text, path);
    }

    /// <summary>Parses dotenv text; <paramref name="path"/> names it in errors.</summary>
    public static DotEnvFile Parse(string text, string path) => new(path, text, new Parser(text, path).Entries());

    /// <summary>
    /// Sets <paramref name="values"/> in the file at <paramref name="path"/> (created with mode 0600 when missing): a key
    /// already there gets its value replaced in place, other keys are appended; every other line stays as it was.
    /// The file is replaced atomically, and stays private.
    /// </summary>
    public static void Set(string path, IReadOnlyDictionary<string, string> values)
    {
        var current = Read(path);
        var text = new StringBuilder(current.Text);
        // Replace from the end so earlier offsets stay valid; the last assignment of a key is the one that counts.
        var replaced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in current._entries.AsEnumerable().Reverse())
        {
            if (!values.TryGetValue(entry.Key, out var value) || !replaced.Add(entry.Key)) continue;
            text.Remove(entry.Start, entry.End - entry.Start).Insert(entry.Start, Line(entry.Key, value));
        }
        foreach (var (key, value) in values)
        {
            if (replaced.Contains(key)) continue;
            if (text.Length > 0 && text[^1] != '\n') text.Append('\n');
            text.Append(Line(key, value)).Append('\n');
        }
        WritePrivate(path, text.ToString());
    }

    /// <summary>Creates an empty private file (mode 0600) unless one exists; true when it created it.</summary>
    public static bool CreateEmpty(string path)
    {
        if (File.Exists(path)) return false;
        var options = PipeHome.WriteOptions(FileMode.CreateNew);
        try
        {
            using var _ = new FileStream(path, options);
        }
        catch (IOException) when (File.Exists(path))
        {
            return false; // created by someone else meanwhile
        }
        return true;
    }

    /// <summary><c>KEY=value</c>, the value bare when that reads back the same, else quoted.</summary>
    public static string Line(string key, string value)
    {
        if (!VariableInterpolation.IsName(key)) throw new ArgumentException($"'{key}' is not a variable name", nameof(key));
        if (value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || "_-./:@+,=%^~".Contains(c))) return key + "=" + value;
        if (!value.Contains('\'') && !value.Contains('\n') && !value.Contains('\r')) return key + "='" + value + "'";
        var sb = new StringBuilder(key).Append("=\"");
        foreach (var c in value)
            sb.Append(c switch { '\\' => "\\\\", '"' => "\\\"", '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ => c.ToString() });
        return sb.Append('"').ToString();
    }

    private static void WritePrivate(string path, string text)
    {
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        PipeHome.CreateFolder(directory);
        var temp = System.IO.Path.Combine(directory, $".env.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        var options = PipeHome.WriteOptions(FileMode.CreateNew);
        try
        {
            using (var stream = new FileStream(temp, options))
            {
                stream.Write(new UTF8Encoding(false).GetBytes(text));
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Refuses a file another user owns, or one group or others may read or write.</summary>
    private static void CheckPrivate(string path)
    {
        if (OperatingSystem.IsWindows()) return;
        var mode = File.GetUnixFileMode(path);
        const UnixFileMode shared = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;
        if (OwnerOf(path) is { } owner && owner != geteuid())
            throw new ConfigException(
                $"holds secrets but belongs to another user (uid {owner}), not to you (uid {geteuid()}): refused; make it yours with: chown {geteuid()} {path} && chmod 600 {path}",
                path);
        if ((mode & shared) != 0)
            throw new ConfigException(
                $"holds secrets but group or others may {((mode & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0 ? "read" : "write")} it (mode {Octal(mode)}): refused; fix it with: chmod 600 {path}",
                path);
    }

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode & 0x1FF, 8).PadLeft(4, '0');

    /// <summary>The file's owner uid (Linux <c>statx</c>, whose layout is the same on every architecture); null elsewhere.</summary>
    private static unsafe uint? OwnerOf(string path)
    {
        if (!OperatingSystem.IsLinux()) return null;
        const int atFdCwd = -100, statxUid = 0x8, uidOffset = 20;
        var buffer = stackalloc byte[256];
        try
        {
            if (statx(atFdCwd, path, 0, statxUid, buffer) != 0) return null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
        return *(uint*)(buffer + uidOffset);
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(int directoryFd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint geteuid();

    /// <summary>One pass over the text, counting lines for errors.</summary>
    private sealed class Parser(string text, string path)
    {
        private int _at;
        private int _line = 1;

        public List<Entry> Entries()
        {
            var entries = new List<Entry>();
            while (_at < text.Length)
            {
                var lineStart = _at;
                SkipBlanks();
                if (AtEndOfLine())
                {
                    NextLine();
                    continue;
                }
                if (text[_at] == '#')
                {
                    SkipToEndOfLine();
                    NextLine();
                    continue;
                }
                var line = _line;
                var key = Word();
                if (key == "export" && _at < text.Length && text[_at] is ' ' or '\t')
                {
                    SkipBlanks();
                    key = Word();
                }
                if (!VariableInterpolation.IsName(key)) throw Error(line, key.Length == 0 ? "expected KEY=value" : "expected KEY=value with KEY made of letters, digits and '_'");
                SkipBlanks();
                if (_at >= text.Length || text[_at] != '=') throw Error(line, $"{key}: expected '=' after the name");
                _at++;
                SkipBlanks();
                var value = _at < text.Length && text[_at] == '\'' ? SingleQuoted(key)
                    : _at < text.Length && text[_at] == '"' ? DoubleQuoted(key)
                    : Bare();
                SkipBlanks();
                if (_at < text.Length && text[_at] == '#') SkipComment();
                if (!AtEndOfLine()) throw Error(_line, $"{key}: unexpected text after the closing quote");
                entries.Add(new Entry(key, value, line, lineStart, _at));
                NextLine();
            }
            return entries;
        }

        private string Word()
        {
            var start = _at;
            while (_at < text.Length && (char.IsAsciiLetterOrDigit(text[_at]) || text[_at] is '_' or '.' or '-')) _at++;
            return text[start.._at];
        }

        private string Bare()
        {
            var start = _at;
            var end = _at;
            while (!AtEndOfLine())
            {
                // A '#' after whitespace starts a comment; inside a word it is part of the value.
                if (text[_at] == '#' && _at > start && text[_at - 1] is ' ' or '\t') break;
                if (text[_at] is not (' ' or '\t')) end = _at + 1;
                _at++;
            }
            if (_at < text.Length && text[_at] == '#') SkipComment();
            return text[start..end];
        }

        private string SingleQuoted(string key)
        {
            var openLine = _line;
            var close = text.IndexOf('\'', _at + 1);
            if (close < 0) throw Error(openLine, $"{key}: the single-quoted value is not closed");
            var value = text[(_at + 1)..close];
            _line += value.Count(c => c == '\n');
            _at = close + 1;
            return value;
        }

        private string DoubleQuoted(string key)
        {
            var openLine = _line;
            var sb = new StringBuilder();
            _at++;
            while (true)
            {
                if (_at >= text.Length) throw Error(openLine, $"{key}: the double-quoted value is not closed");
                var c = text[_at++];
                if (c == '"') return sb.ToString();
                if (c == '\n') _line++;
                if (c != '\\' || _at >= text.Length)
                {
                    sb.Append(c);
                    continue;
                }
                var escaped = text[_at++];
                switch (escaped)
                {
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case '"' or '\\' or '$' or '`': sb.Append(escaped); break;
                    default:
                        // Not an escape we know: kept as written, as a shell would.
                        sb.Append('\\').Append(escaped);
                        if (escaped == '\n') _line++;
                        break;
                }
            }
        }

        private void SkipBlanks()
        {
            while (_at < text.Length && text[_at] is ' ' or '\t') _at++;
        }

        private void SkipComment()
        {
            while (!AtEndOfLine()) _at++;
        }

        private void SkipToEndOfLine()
        {
            while (_at < text.Length && text[_at] != '\n') _at++;
        }

        private bool AtEndOfLine() =>
            _at >= text.Length || text[_at] == '\n' || (text[_at] == '\r' && (_at + 1 >= text.Length || text[_at + 1] == '\n'));

        private void NextLine()
        {
            SkipToEndOfLine();
            if (_at < text.Length)
            {
                _at++;
                _line++;
            }
        }

        private ConfigException Error(int line, string reason) => new(reason, path, line);
    }
}

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// A quoting mistake in delimited text, at the line and column (1-based, in characters) where it was found; the
/// reader's caller adds the file.
/// </summary>
internal sealed class CsvSyntaxException(long line, long column, string problem, long escapedQuoteLine = 0) : Exception($"line {line} column {column}: {problem}")
{
    /// <summary>
    /// The first line (0: none) where a quoted field read so far (without an escape) holds <c>\"</c>: the file's escape
    /// is probably <c>\</c>, and the mistake may come from reading it as a literal backslash.
    /// </summary>
    public long EscapedQuoteLine { get; } = escapedQuoteLine;

    public bool EscapedQuote => EscapedQuoteLine > 0;
}

/// <summary>
/// Reads delimited text row by row as DuckDB's <c>read_csv</c> and Python's <c>csv</c> read it (RFC 4180, leniently):
/// a quote opens a quoted field only as the field's first character (spaces before it are dropped), anywhere else it
/// is a literal character (<c>TV 55" OLED</c>); inside a quoted field the quote is written twice, or preceded by the
/// escape character when one is set. Spaces after the closing quote are dropped; anything else there, or the end of
/// the file inside a quoted field, is an error naming where (a guess would silently fuse or split rows).
/// A blank line is a row of one empty field. Lines are ended by <c>\n</c>, <c>\r\n</c> or a lone <c>\r</c>.
/// </summary>
internal sealed class CsvRowReader : IDisposable
{
    private readonly TextReader _text;
    private readonly char _delimiter;
    private readonly char? _quote;
    private readonly char? _escape;
    private readonly char? _comment;
    private int _skipLines;

    private readonly char[] _buffer = new char[1 << 16];
    private int _position, _length;
    /// <summary>The offset in the text of <c>_buffer[0]</c>, and of the current line's first character (for columns).</summary>
    private long _bufferStart, _lineStart;
    private long _line = 1;
    private bool _rowEndedByLineBreak;
    /// <summary>The first line where a quoted field holds <c>\"</c> while no escape is set (0: none yet).</summary>
    private long _escapedQuoteLine;
    /// <summary>The offset in the text just past the last <c>\r</c> <see cref="CountLines"/> counted (its <c>\n</c> may open the next buffer).</summary>
    private long _afterCountedCr = -1;

    private char[] _chars = new char[1 << 12];
    private int _charCount;
    private int[] _ends = new int[64];
    private int[] _starts = new int[64];
    private int _count;

    public CsvRowReader(TextReader text, char delimiter, char? quote, char? escape = null, int skipLines = 0, char? comment = null)
    {
        _text = text;
        _delimiter = delimiter;
        _quote = quote;
        _escape = escape == quote ? null : escape;
        _skipLines = skipLines;
        _comment = comment;
    }

    /// <summary>Fields of the current row.</summary>
    public int ColCount => _count;

    /// <summary>The line (1-based) the current row starts on, and the one it ends on (later when a quoted field holds line breaks).</summary>
    public long LineNumberFrom { get; private set; }

    public long LineNumberTo { get; private set; }

    /// <summary>Whether the current row has a quoted field (so a wrong field count may come from a stray quote).</summary>
    public bool HasQuotedField { get; private set; }

    public ReadOnlySpan<char> this[int index]
    {
        get
        {
            var start = _starts[index];
            return _chars.AsSpan(start, _ends[index] - start);
        }
    }

    public bool MoveNext()
    {
        _charCount = 0;
        _count = 0;
        HasQuotedField = false;
        for (; _skipLines > 0; _skipLines--)
            if (!SkipLine()) return false;
        while (_comment is { } comment && AtCommentLine(comment))
            if (!SkipLine()) return false;
        if (Peek() < 0) return false;
        LineNumberFrom = _line;
        _rowEndedByLineBreak = false;
        if (!TryPlainLine())
            while (ReadField()) { }
        LineNumberTo = _rowEndedByLineBreak ? _line - 1 : _line;
        return true;
    }

    /// <summary>
    /// The usual row: a whole line in the buffer without a quote character. It is copied once and cut at each delimiter
    /// (one search per field, not one per field for any of delimiter, line break or quote as <see cref="ReadField"/>
    /// does): a line holding a quote, or running past the buffer, is left to the field-by-field read.
    /// </summary>
    private bool TryPlainLine()
    {
        var rest = _buffer.AsSpan(_position, _length - _position);
        var stop = _quote is { } quote ? rest.IndexOfAny('\n', '\r', quote) : rest.IndexOfAny('\n', '\r');
        if (stop < 0 || rest[stop] == _quote) return false;
        var line = rest[..stop];
        Append(line);
        var from = 0;
        while (true)
        {
            var delimiter = line[from..].IndexOf(_delimiter);
            if (delimiter < 0) break;
            EndField(from, from + delimiter);
            from += delimiter + 1;
        }
        EndField(from, line.Length);
        _position += stop;
        Terminator();
        return true;
    }

    /// <summary>Reads one field into <c>_chars</c>; true when a delimiter follows it (more fields in the row).</summary>
    private bool ReadField()
    {
        var fieldStart = _charCount;
        if (_quote is { } quote)
        {
            while (Peek() == ' ' && _delimiter != ' ') { Append(' '); _position++; }
            if (Peek() == quote)
            {
                _charCount = fieldStart;
                return ReadQuoted(quote);
            }
        }
        while (true)
        {
            var rest = _buffer.AsSpan(_position, _length - _position);
            var end = rest.IndexOfAny(_delimiter, '\n', '\r');
            if (end < 0)
            {
                Append(rest);
                _position = _length;
                if (Peek() < 0) return EndField(false);
                continue;
            }
            Append(rest[..end]);
            _position += end;
            return EndField(Terminator());
        }
    }

    private bool ReadQuoted(char quote)
    {
        HasQuotedField = true;
        var fieldStart = _charCount;
        var openLine = _line;
        var openColumn = Column;
        _position++;
        while (true)
        {
            var rest = _buffer.AsSpan(_position, _length - _position);
            var end = _escape is { } e ? rest.IndexOfAny(quote, e) : rest.IndexOf(quote);
            var content = end < 0 ? rest : rest[..end];
            Append(content);
            CountLines(content);
            _position += content.Length;
            if (end < 0)
            {
                if (Peek() < 0) throw new CsvSyntaxException(openLine, openColumn, $"the quoted field opened here ({quote}) is never closed: the file ends inside it (a stray quote? set quote: \"\" if the file does not quote fields)", _escapedQuoteLine);
                continue;
            }
            var c = _buffer[_position++];
            var next = Peek();
            if (c != quote)
            {
                // The escape character: it makes the quote (or itself) after it literal, and is literal before anything else.
                if (next == quote || next == c) { Append((char)next); _position++; }
                else Append(c);
                continue;
            }
            if (_escape is null && _escapedQuoteLine == 0 && _charCount > fieldStart && _chars[_charCount - 1] == '\\') _escapedQuoteLine = _line;
            // A quote written twice is one quote also when an escape is set, as Python's csv reads it.
            if (next == quote) { Append(quote); _position++; continue; }
            while (Peek() == ' ' && _delimiter != ' ') _position++;
            next = Peek();
            if (next < 0 || next == _delimiter || next == '\n' || next == '\r') return EndField(next >= 0 && Terminator());
            var escapedQuote = _charCount > 0 && _chars[_charCount - 1] == '\\' && _escape is null;
            var hint = escapedQuote
                ? "; the file seems to escape quotes as \\\": set escape: \"\\\\\""
                : $"; inside a quoted field a quote is written twice ({quote}{quote}); set quote: \"\" if the file does not quote fields";
            throw new CsvSyntaxException(_line, Column, $"'{(char)next}' follows the closing quote of the field opened at line {openLine} column {openColumn}{hint}", _escapedQuoteLine);
        }
    }

    /// <summary>Consumes the delimiter or line break at the position; true for a delimiter.</summary>
    private bool Terminator()
    {
        var c = _buffer[_position++];
        if (c == _delimiter) return true;
        if (c == '\r' && Peek() == '\n') _position++;
        _rowEndedByLineBreak = true;
        _line++;
        _lineStart = _bufferStart + _position;
        return false;
    }

    /// <summary>Ends a field read by <see cref="ReadField"/>: its characters are those after the previous field's.</summary>
    private bool EndField(bool more)
    {
        EndField(_count == 0 ? 0 : _ends[_count - 1], _charCount);
        return more;
    }

    private void EndField(int start, int end)
    {
        if (_count == _ends.Length)
        {
            Array.Resize(ref _ends, _ends.Length * 2);
            Array.Resize(ref _starts, _ends.Length);
        }
        _starts[_count] = start;
        _ends[_count++] = end;
    }

    /// <summary>
    /// Whether text at the start of a line opens a comment line: its first character other than spaces and tabs (those
    /// that are not the delimiter) is the comment character, as DuckDB reads <c>comment</c> (an indented <c># note</c>
    /// is a comment too). Null when the text ends inside the indentation: what follows decides.
    /// </summary>
    public static bool? OpensCommentLine(ReadOnlySpan<char> text, char comment, char delimiter)
    {
        foreach (var c in text)
        {
            if (c == comment) return true;
            if (c is not (' ' or '\t') || c == delimiter) return false;
        }
        return null;
    }

    /// <summary>Whether the line at the position is a comment line (<see cref="OpensCommentLine"/>), reading on when its indentation runs past the buffer.</summary>
    private bool AtCommentLine(char comment)
    {
        if (Peek() < 0) return false;
        while (true)
        {
            if (OpensCommentLine(_buffer.AsSpan(_position, _length - _position), comment, _delimiter) is { } opens) return opens;
            // Indentation up to the end of the file, or filling the whole buffer, is data.
            if (!ReadMoreKeepingRest()) return false;
        }
    }

    /// <summary>Moves the unread characters to the buffer's start and reads more after them; false when nothing more fits or is left.</summary>
    private bool ReadMoreKeepingRest()
    {
        var rest = _length - _position;
        if (rest == _buffer.Length) return false;
        Array.Copy(_buffer, _position, _buffer, 0, rest);
        _bufferStart += _position;
        _position = 0;
        var read = _text.ReadBlock(_buffer, rest, _buffer.Length - rest);
        _length = rest + read;
        return read > 0;
    }

    /// <summary>Skips a line of the file (a comment, or one of <c>skip_rows</c>); false at the end of the file.</summary>
    private bool SkipLine()
    {
        while (true)
        {
            if (Peek() < 0) return false;
            var rest = _buffer.AsSpan(_position, _length - _position);
            var end = rest.IndexOfAny('\n', '\r');
            if (end < 0) { _position = _length; continue; }
            _position += end;
            Terminator();
            return true;
        }
    }

    /// <summary>
    /// Counts the line breaks of quoted content that starts at the position: a <c>\r</c> counts, and a <c>\n</c> unless
    /// a <c>\r</c> is just before it, also when that <c>\r</c> ended the buffer before.
    /// </summary>
    private void CountLines(ReadOnlySpan<char> content)
    {
        var last = content.LastIndexOfAny('\n', '\r');
        if (last < 0) return;
        var at = _bufferStart + _position;
        for (var i = 0; i <= last; i++)
            if (content[i] == '\r' || (content[i] == '\n' && (i > 0 ? content[i - 1] != '\r' : at != _afterCountedCr)))
                _line++;
        if (content[last] == '\r') _afterCountedCr = at + last + 1;
        _lineStart = at + last + 1;
    }

    private long Column => _bufferStart + _position - _lineStart + 1;

    /// <summary>The next character (-1 at the end), refilling the buffer when all of it was consumed.</summary>
    private int Peek()
    {
        if (_position < _length) return _buffer[_position];
        _bufferStart += _length;
        _position = 0;
        _length = _text.ReadBlock(_buffer, 0, _buffer.Length);
        return _length > 0 ? _buffer[0] : -1;
    }

    private void Append(char c)
    {
        if (_charCount == _chars.Length) Array.Resize(ref _chars, _chars.Length * 2);
        _chars[_charCount++] = c;
    }

    private void Append(ReadOnlySpan<char> text)
    {
        if (_charCount + text.Length > _chars.Length) Array.Resize(ref _chars, Math.Max(_chars.Length * 2, _charCount + text.Length));
        text.CopyTo(_chars.AsSpan(_charCount));
        _charCount += text.Length;
    }

    public void Dispose() => _text.Dispose();
}

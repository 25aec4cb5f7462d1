using System.Globalization;
using System.Text;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// The one place console output is made printable. Taps control stream and property names, and those reach errors,
/// progress lines and tables; printed raw, an escape sequence in a name could clear lines, fake colours or retitle the
/// window. So every control character but newline and tab is shown as <c>\u001b</c>, as JSON output already shows it:
/// in whatever goes through <see cref="Console.Out"/> and <see cref="Console.Error"/>, and in every segment Spectre
/// renders (its own cursor and colour codes are control segments or styles, not text, and stay as they are).
/// </summary>
internal static class PrintableOutput
{
    /// <summary>Routes the console (and Spectre's console, kept on the raw stdout for its own codes) through <see cref="Escape"/>.</summary>
    public static IAnsiConsole Install()
    {
        Console.SetOut(StandardStreams.Writer(1));
        Console.SetError(StandardStreams.Writer(2));
        // Created while its writer is Console.Out, so Spectre detects the terminal as it does for the console's own writer.
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        var (columns, rows) = StandardStreams.Size();
        if (columns is { } width) console.Profile.Width = width;
        if (rows is { } height) console.Profile.Height = height;
        console.Pipeline.Attach(new EscapingHook());
        AnsiConsole.Console = console;
        Console.SetOut(new EscapingWriter(Console.Out));
        Console.SetError(new EscapingWriter(Console.Error));
        return console;
    }

    private static bool IsEscaped(char c) => char.IsControl(c) && c is not ('\n' or '\t');

    /// <summary><paramref name="text"/> with each control character but newline and tab written as <c>\uXXXX</c>.</summary>
    public static string Escape(string text) => Escape(text, EscapedChars);

    /// <summary>
    /// <paramref name="text"/> with every control character, newline and tab too, written as <c>\uXXXX</c>: for a value
    /// quoted inside a one-line message, where a line break would hide what the value holds.
    /// </summary>
    public static string EscapeAll(string text) => Escape(text, ControlChars);

    private static string Escape(string text, System.Buffers.SearchValues<char> escaped)
    {
        var first = text.AsSpan().IndexOfAny(escaped);
        if (first < 0) return text;
        var shown = new StringBuilder(text.Length + 16).Append(text, 0, first);
        foreach (var c in text.AsSpan(first))
        {
            if (escaped.Contains(c)) shown.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            else shown.Append(c);
        }
        return shown.ToString();
    }

    /// <summary>Every control character (C0, DEL and C1).</summary>
    public static readonly System.Buffers.SearchValues<char> ControlChars =
        System.Buffers.SearchValues.Create(Enumerable.Range(0, 0xA0).Select(i => (char)i).Where(char.IsControl).ToArray());

    private static readonly System.Buffers.SearchValues<char> EscapedChars =
        System.Buffers.SearchValues.Create(Enumerable.Range(0, 0xA0).Select(i => (char)i).Where(IsEscaped).ToArray());

    /// <summary>Forwards to the process's stdout or stderr writer, escaped; it stays open, as the console's writers do.</summary>
    private sealed class EscapingWriter(TextWriter inner) : TextWriter(CultureInfo.InvariantCulture)
    {
        public override Encoding Encoding => inner.Encoding;
        public override void Write(char value) => inner.Write(IsEscaped(value) ? Escape(value.ToString()) : value.ToString());
        public override void Write(string? value) => inner.Write(value is null ? null : Escape(value));
        public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));
        public override void Write(ReadOnlySpan<char> buffer) => Write(new string(buffer));
        // One call to the inner writer per line, so lines written from several threads do not interleave mid-line.
        public override void WriteLine(string? value) => inner.WriteLine(value is null ? null : Escape(value));
        public override void Flush() => inner.Flush();
        protected override void Dispose(bool disposing) => inner.Flush();
    }

    /// <summary>Wraps every renderable written to Spectre's console so its text segments come out escaped (and tables fit: <see cref="NarrowTable"/>).</summary>
    private sealed class EscapingHook : IRenderHook
    {
        public IEnumerable<IRenderable> Process(RenderOptions options, IEnumerable<IRenderable> renderables) =>
            renderables.Select(r => (IRenderable)new Escaped(r is Table table ? new NarrowTable(table) : r));
    }

    private sealed class Escaped(IRenderable inner) : IRenderable
    {
        public Measurement Measure(RenderOptions options, int maxWidth) => inner.Measure(options, maxWidth);

        public IEnumerable<Segment> Render(RenderOptions options, int maxWidth)
        {
            var segments = inner.Render(options, maxWidth).ToList();
            // A prompt erases a typed character by writing "\b \b" on its own: that may move the cursor back; any
            // other text with a control character in it is content, and is shown escaped.
            if (segments.All(s => s.IsControlCode || s.Text.All(c => c is '\b' or ' '))) return segments;
            return segments.Select(s => s.IsControlCode || s.IsLineBreak ? s : new Segment(Escape(s.Text), s.Style, s.Link));
        }
    }
}

using System.Text;

namespace DataSpoc.Pipe.Config;

/// <summary>
/// <c>${VAR}</c> and <c>${VAR:-default}</c> in configuration values (the default applies when VAR is unset or empty,
/// as in a POSIX shell); <c>$${</c> is a literal <c>${</c>.
/// </summary>
public static class VariableInterpolation
{
    /// <summary>Reads the process environment.</summary>
    public static readonly Func<string, string?> ProcessEnvironment = Environment.GetEnvironmentVariable;

    /// <summary>
    /// Replaces every reference in <paramref name="text"/>. Returns the text unchanged (and <paramref name="substituted"/>
    /// false) when it has none. A missing variable without default throws <see cref="MissingVariableException"/>.
    /// </summary>
    public static string Expand(string text, Func<string, string?> environment, out bool substituted) =>
        Expand(text, environment, out substituted, null);

    /// <summary>
    /// As <see cref="Expand(string, Func{string, string?}, out bool)"/>, but a variable that is unset and has no default
    /// is replaced by what <paramref name="whenUnset"/> returns for it (when given) instead of throwing.
    /// </summary>
    public static string Expand(string text, Func<string, string?> environment, out bool substituted, Func<string, string>? whenUnset)
    {
        substituted = false;
        if (!text.Contains('$', StringComparison.Ordinal)) return text;
        var sb = new StringBuilder(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '$' && i + 2 < text.Length && text[i + 1] == '$' && text[i + 2] == '{')
            {
                sb.Append("${");
                i += 3;
                continue;
            }
            if (c != '$' || i + 1 >= text.Length || text[i + 1] != '{')
            {
                sb.Append(c);
                i++;
                continue;
            }
            var close = text.IndexOf('}', i + 2);
            if (close < 0) throw new FormatException("'${' without a closing '}'");
            var body = text.AsSpan(i + 2, close - i - 2);
            var sep = body.IndexOf(":-", StringComparison.Ordinal);
            var name = (sep < 0 ? body : body[..sep]).ToString();
            if (!IsName(name)) throw new FormatException($"'${{{body}}}' is not a variable reference: use ${{NAME}} or ${{NAME:-default}}");
            var value = environment(name);
            if (string.IsNullOrEmpty(value))
            {
                if (sep >= 0) value = body[(sep + 2)..].ToString();
                else if (value is null) value = whenUnset?.Invoke(name) ?? throw new MissingVariableException(name);
            }
            sb.Append(value);
            substituted = true;
            i = close + 1;
        }
        return sb.ToString();
    }

    /// <summary>Whether <paramref name="name"/> can be a variable name (<c>[A-Za-z_][A-Za-z0-9_]*</c>).</summary>
    public static bool IsName(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] == '_') && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
}

/// <summary>A <c>${VAR}</c> reference to a variable that is not set (and has no default).</summary>
public sealed class MissingVariableException(string variable)
    : PipeException($"environment variable '{variable}' is not set (add {variable}=... to the home's .env, or use ${{{variable}:-default}} for a default)")
{
    public string Variable { get; } = variable;
    public override PipeErrorKind Kind => PipeErrorKind.Usage;
}

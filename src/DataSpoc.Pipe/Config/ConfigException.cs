namespace DataSpoc.Pipe.Config;

/// <summary>
/// A configuration error the user must fix: names the file, the line (when known) and the key.
/// The message never contains a secret value.
/// </summary>
public sealed class ConfigException : PipeException
{
    public ConfigException(string reason, string? file = null, int? line = null, string? key = null, Exception? inner = null)
        : base(Format(reason, file, line, key), inner)
    {
        Reason = reason;
        File = file;
        Line = line;
        Key = key;
    }

    public override PipeErrorKind Kind => PipeErrorKind.Usage;

    /// <summary>What is wrong, without the location.</summary>
    public string Reason { get; }
    public string? File { get; }
    /// <summary>1-based line number in <see cref="File"/>.</summary>
    public int? Line { get; }
    /// <summary>The dotted key, e.g. <c>destination.compression</c>.</summary>
    public string? Key { get; }

    private static string Format(string reason, string? file, int? line, string? key)
    {
        var where = file is null ? "" : line is { } l ? $"{file}:{l}: " : $"{file}: ";
        return where + (key is null ? "" : key + ": ") + reason;
    }
}

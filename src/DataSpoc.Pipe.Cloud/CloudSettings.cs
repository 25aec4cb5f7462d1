namespace DataSpoc.Pipe.Cloud;

/// <summary>
/// Where a cloud store reads its settings: the pipeline's <c>destination.storage_options</c> first, then the
/// environment variables each cloud's own tools use. Nothing here is ever persisted or logged.
/// </summary>
internal sealed class CloudSettings(IReadOnlyDictionary<string, string> options, Func<string, string?> environment)
{
    public static CloudSettings FromProcess(IReadOnlyDictionary<string, string>? options = null) =>
        new(options ?? new Dictionary<string, string>(), Environment.GetEnvironmentVariable);

    /// <summary>A storage option (keys compared case-insensitively, '-' and '_' alike); null when unset or blank.</summary>
    public string? Option(string name)
    {
        foreach (var (key, value) in options)
            if (string.Equals(key.Replace('-', '_'), name, StringComparison.OrdinalIgnoreCase) && !string.IsNullOrWhiteSpace(value))
                return value.Trim();
        return null;
    }

    /// <summary>An environment variable; null when unset or blank.</summary>
    public string? Env(string name)
    {
        var value = environment(name);
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    /// <summary>A duration option (<c>500ms</c>, <c>2s</c>, or seconds, as everywhere in the configuration); null when unset.</summary>
    public TimeSpan? Duration(string name)
    {
        var value = Option(name);
        if (value is null) return null;
        return Config.Durations.TryParse(value, out var duration)
            ? duration
            : throw new Storage.StorageException($"storage option '{name}': {Config.Durations.Problem(value, "500ms or 2s")}");
    }

    /// <summary>A yes/no option (<c>true/false</c>, <c>yes/no</c>, <c>1/0</c>); null when unset.</summary>
    public bool? Flag(string name)
    {
        var value = Option(name);
        if (value is null) return null;
        return value.ToLowerInvariant() switch
        {
            "true" or "yes" or "1" or "on" => true,
            "false" or "no" or "0" or "off" => false,
            _ => throw new Storage.StorageException($"storage option '{name}' must be true or false, not '{value}'"),
        };
    }
}

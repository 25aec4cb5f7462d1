namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// Local paths with every symlink in them followed (realpath(3), done with .NET's link APIs): the one spelling of a
/// file that file taps key it by. Resolved folders are cached, so a folder of many files is resolved once.
/// </summary>
internal sealed class ResolvedPaths
{
    private readonly Dictionary<string, string> _folders = new(StringComparer.Ordinal);

    /// <summary>The resolved path; a part that does not exist (a file deleted since a run read it) is kept as written.</summary>
    public string Resolve(string path) => Resolve(Path.GetFullPath(path), 0);

    private string Resolve(string full, int depth)
    {
        // 40: Linux's limit of links followed in one lookup (ELOOP); a loop ends there, spelled as far as it got.
        if (depth > 40 || Path.GetDirectoryName(full) is not { } folder) return full;
        if (!_folders.TryGetValue(folder, out var resolvedFolder))
            _folders[folder] = resolvedFolder = Resolve(folder, depth + 1);
        var candidate = Path.Combine(resolvedFolder, Path.GetFileName(full));
        string? target;
        try { target = new FileInfo(candidate).LinkTarget; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return candidate; }
        return target is null ? candidate : Resolve(Path.GetFullPath(target, resolvedFolder), depth + 1);
    }
}

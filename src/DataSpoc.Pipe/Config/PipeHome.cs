using System.Runtime.InteropServices;

namespace DataSpoc.Pipe.Config;

/// <summary>
/// The home folder, <c>~/.dataspoc-pipe/</c> (or <c>$DATASPOC_PIPE_HOME</c>): <c>config.yaml</c>,
/// <c>pipelines/&lt;name&gt;.yaml</c>, <c>sources/&lt;name&gt;.json</c> (tap configs), <c>transforms/</c> and <c>.env</c>
/// (the secrets <c>${VAR}</c> expands to, private to the user).
/// </summary>
public sealed partial class PipeHome
{
    public const string EnvironmentVariable = "DATASPOC_PIPE_HOME";

    public const string DefaultConfigYaml =
        """
        # dataspoc-pipe settings. Pipelines that omit these keys take them from here.
        defaults:
          compression: zstd              # zstd | snappy | gzip | none
          partition_by: _extraction_date # _extraction_date | none | <date column>
          path: raw                      # folder inside the bucket

        """;

    public PipeHome(string root)
    {
        // GetFullPath keeps a trailing '/': "/x/home/" and "/x/home" are one home and must read as one.
        Root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
    }

    /// <summary><c>$DATASPOC_PIPE_HOME</c> when set, else <c>~/.dataspoc-pipe</c>.</summary>
    public static PipeHome Resolve()
    {
        var fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnv)) return new PipeHome(ExpandHome(fromEnv));
        return new PipeHome(Path.Combine(UserHome(), ".dataspoc-pipe"));
    }

    public string Root { get; }

    /// <summary>
    /// The home's one spelling: <see cref="Root"/> with every symbolic link resolved (<see cref="Canonical"/>). Crontab
    /// lines name the home this way, so the same home reached through a link or with a trailing <c>/</c> is still one home.
    /// </summary>
    public string CanonicalRoot => Canonical(Root);

    /// <summary>
    /// <paramref name="path"/> made absolute, without a trailing separator, and with every symbolic link along it resolved
    /// (as <c>realpath</c> does); a part that does not exist (a home not created yet) is kept as written. Two spellings of
    /// one folder give the same text.
    /// </summary>
    public static string Canonical(string path)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        if (OperatingSystem.IsWindows()) return full;
        var parts = new List<string>(full.Split('/', StringSplitOptions.RemoveEmptyEntries));
        var resolved = "/";
        var links = 0;
        for (var i = 0; i < parts.Count; i++)
        {
            var next = Path.Join(resolved, parts[i]);
            string? target;
            try
            {
                target = new FileInfo(next).LinkTarget;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                target = null;
            }
            if (target is null)
            {
                resolved = next;
                continue;
            }
            // A loop is not a folder: keep the path as written (40 links, as the kernel's limit).
            if (++links > 40) return full;
            // The link's target (relative to the folder holding it) replaces it; its own links are resolved in turn.
            var rest = parts.Skip(i + 1);
            parts = [.. Path.GetFullPath(target, resolved).Split('/', StringSplitOptions.RemoveEmptyEntries), .. rest];
            resolved = "/";
            i = -1;
        }
        return resolved;
    }
    public string ConfigPath => Path.Combine(Root, "config.yaml");
    public string PipelinesDirectory => Path.Combine(Root, "pipelines");
    public string SourcesDirectory => Path.Combine(Root, "sources");
    public string TransformsDirectory => Path.Combine(Root, "transforms");
    /// <summary>The private dotenv file of secrets for <c>${VAR}</c> (see <see cref="DotEnvFile"/>).</summary>
    public string EnvFilePath => Path.Combine(Root, ".env");

    /// <summary>Whether <c>init</c> has been run (the pipelines folder exists).</summary>
    public bool Exists => Directory.Exists(PipelinesDirectory);

    /// <summary>The YAML file a pipeline of this name has; throws <see cref="ConfigException"/> for a name that could leave <c>pipelines/</c>.</summary>
    public string PipelinePath(string name) => Path.Combine(PipelinesDirectory, Lake.LakeNames.Pipeline(name) + ".yaml");
    public string SourceConfigPath(string name) => Path.Combine(SourcesDirectory, Lake.LakeNames.Pipeline(name) + ".json");

    /// <summary>
    /// Creates the folders, a default <c>config.yaml</c> and an empty <c>.env</c> (mode 0600); never overwrites anything.
    /// Returns what it created (empty when everything was already there).
    /// </summary>
    public IReadOnlyList<string> Init()
    {
        var created = new List<string>();
        foreach (var dir in new[] { Root, PipelinesDirectory, SourcesDirectory, TransformsDirectory })
        {
            if (Directory.Exists(dir)) continue;
            CreateFolder(dir);
            created.Add(dir);
        }
        if (!File.Exists(ConfigPath))
        {
            WriteFile(ConfigPath, DefaultConfigYaml);
            created.Add(ConfigPath);
        }
        if (DotEnvFile.CreateEmpty(EnvFilePath)) created.Add(EnvFilePath);
        // Tap configs hold credentials: keep the folder private to the user, also in a home made before or by hand. Only
        // group and others lose access: a user bit the owner removed (a read-only home) stays removed, and a folder already
        // private is not touched, so init on a complete home on a read-only filesystem changes nothing.
        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(SourcesDirectory);
            if ((mode & ~PrivateFolderMode) != 0) File.SetUnixFileMode(SourcesDirectory, mode & PrivateFolderMode);
        }
        return created;
    }

    /// <summary>
    /// Why this user cannot create files in the existing folder <paramref name="folder"/> (the system's words, e.g.
    /// "Permission denied", "Read-only file system"), or null when it can. Asked before a command writes, so a read-only
    /// home is refused before anything in it changes.
    /// </summary>
    public static string? CannotWrite(string folder)
    {
        if (OperatingSystem.IsWindows() || access(folder, WriteAndSearch) == 0) return null;
        return Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
    }

    private const int WriteAndSearch = 2 | 1; // W_OK | X_OK: creating a file in a folder needs both

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int access(string path, int mode);

    /// <summary>The mode of a folder the tool creates in the home: only its user may list, enter or change it (0700).</summary>
    public const UnixFileMode PrivateFolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>The mode of a file the tool creates in the home: only its user may read or write it (0600).</summary>
    public const UnixFileMode PrivateFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    // Everything the tool creates in the home is private whatever the umask (000 and 002 are common): a pipeline's
    // source.tap is a command its owner's cron runs, .env and sources/ hold secrets, config.yaml names where lineage goes,
    // and a cached catalog or tap answer steers what a run reads; another user able to edit any of them acts as the owner.
    // A folder or file that already exists keeps its mode (DATASPOC_PIPE_HOME may name a folder the user shares on
    // purpose). The lake's files follow the umask: who may read a lake is the lake's business.

    /// <summary>Creates <paramref name="path"/> and any missing parent with <see cref="PrivateFolderMode"/>; one that exists is left as it is.</summary>
    public static void CreateFolder(string path)
    {
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(path);
        else Directory.CreateDirectory(path, PrivateFolderMode);
    }

    /// <summary>How to open a file in the home for writing: a file it creates gets <see cref="PrivateFileMode"/>.</summary>
    public static FileStreamOptions WriteOptions(FileMode mode)
    {
        var options = new FileStreamOptions { Mode = mode, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = PrivateFileMode;
        return options;
    }

    /// <summary>Writes <paramref name="text"/> (UTF-8) to <paramref name="path"/>, created with <see cref="PrivateFileMode"/> when new.</summary>
    public static void WriteFile(string path, string text, FileMode mode = FileMode.Create)
    {
        using var writer = new StreamWriter(new FileStream(path, WriteOptions(mode)));
        writer.Write(text);
    }

    /// <inheritdoc cref="WriteFile"/>
    public static async Task WriteFileAsync(string path, string text, CancellationToken cancellationToken)
    {
        var writer = new StreamWriter(new FileStream(path, WriteOptions(FileMode.Create)));
        await using (writer.ConfigureAwait(false)) await writer.WriteAsync(text.AsMemory(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Pipeline names (YAML files in <c>pipelines/</c>), sorted.</summary>
    /// <exception cref="ConfigException">The pipelines folder exists but cannot be read (permissions, not a folder, a link loop).</exception>
    public IReadOnlyList<string> PipelineNames()
    {
        try
        {
            return Directory.EnumerateFiles(PipelinesDirectory)
                .Where(p => p.EndsWith(".yaml", StringComparison.Ordinal) || p.EndsWith(".yml", StringComparison.Ordinal))
                .Select(p => Path.GetFileNameWithoutExtension(p))
                .Distinct(StringComparer.Ordinal)
                .Order(StringComparer.Ordinal)
                .ToList();
        }
        catch (DirectoryNotFoundException) when (!Path.Exists(PipelinesDirectory) && !IsLink(PipelinesDirectory))
        {
            return []; // not created yet (init not run): no pipelines, not an error
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // An unreadable home is not an empty one: saying "no pipelines" would hide every scheduled run's failure.
            // .NET says "Could not find a part of the path" of a file where a folder should be: say what is wrong instead.
            var why = File.Exists(PipelinesDirectory) ? "it is a file, not a folder" : e.Message;
            throw new ConfigException($"cannot read the pipelines folder: {why}", PipelinesDirectory, inner: e);
        }
    }

    private static bool IsLink(string path) => new FileInfo(path).LinkTarget is not null;

    /// <summary>The YAML file of a pipeline (<c>.yaml</c> or <c>.yml</c>), or null when there is none.</summary>
    /// <exception cref="ConfigException">The name is not a valid pipeline name (it could name a file outside <c>pipelines/</c>).</exception>
    public string? FindPipelineFile(string name)
    {
        if (!IsValidPipelineName(name) && StrayPipelineFile(name) is { } stray)
            throw new ConfigException($"the file name gives the pipeline name '{Lake.LakeNames.Printable(name)}', which is not valid " +
                $"({Lake.LakeNames.PipelineNameRule}): rename or remove the file", stray);
        Lake.LakeNames.Pipeline(name);
        foreach (var ext in new[] { ".yaml", ".yml" })
        {
            var path = Path.Combine(PipelinesDirectory, name + ext);
            if (File.Exists(path)) return path;
        }
        return null;
    }

    /// <summary>
    /// The file in <c>pipelines/</c> that <see cref="PipelineNames"/> listed under an invalid name (<c>.yaml</c>, left by a
    /// script whose name variable was empty): errors about that name point at it. Only a name of one plain segment can be
    /// such a file; any other stays a bare name error, never a look outside the folder.
    /// </summary>
    private string? StrayPipelineFile(string name)
    {
        if (name.Any(c => c is '/' or '\\' or '\0') || name is "." or "..") return null;
        return new[] { ".yaml", ".yml" }.Select(ext => Path.Combine(PipelinesDirectory, name + ext)).FirstOrDefault(File.Exists);
    }

    /// <summary>
    /// How a name <see cref="PipelineNames"/> listed is shown in a table or a message: the name itself, or for a file
    /// whose name is not a pipeline name, the file, as <c>pipelines/.yaml</c> (its name would be blank, or not one).
    /// </summary>
    public string Shown(string name) =>
        IsValidPipelineName(name) || StrayPipelineFile(name) is not { } stray ? name : Path.GetRelativePath(Root, stray);

    /// <summary>A pipeline name must be usable as a file name and a lake key segment.</summary>
    public static bool IsValidPipelineName(string name) => Lake.LakeNames.IsValidPipelineName(name);

    internal static string UserHome() =>
        Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    /// <summary>Expands a leading <c>~/</c> to the user's home directory.</summary>
    public static string ExpandHome(string path) =>
        path == "~" ? UserHome() : path.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(UserHome(), path[2..]) : path;
}

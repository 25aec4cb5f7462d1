namespace DataSpoc.Pipe.Config;

/// <summary>
/// The home folder, <c>~/.dataspoc-pipe/</c> (or <c>$DATASPOC_PIPE_HOME</c>): <c>config.yaml</c>,
/// <c>pipelines/&lt;name&gt;.yaml</c>, <c>sources/&lt;name&gt;.json</c> (tap configs), <c>transforms/</c> and <c>.env</c>
/// (the secrets <c>${VAR}</c> expands to, private to the user).
/// </summary>
public sealed class PipeHome
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
        Root = Path.GetFullPath(root);
    }

    /// <summary><c>$DATASPOC_PIPE_HOME</c> when set, else <c>~/.dataspoc-pipe</c>.</summary>
    public static PipeHome Resolve()
    {
        var fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnv)) return new PipeHome(ExpandHome(fromEnv));
        return new PipeHome(Path.Combine(UserHome(), ".dataspoc-pipe"));
    }

    public string Root { get; }
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
            Directory.CreateDirectory(dir);
            created.Add(dir);
        }
        if (!File.Exists(ConfigPath))
        {
            File.WriteAllText(ConfigPath, DefaultConfigYaml);
            created.Add(ConfigPath);
        }
        if (DotEnvFile.CreateEmpty(EnvFilePath)) created.Add(EnvFilePath);
        // Tap configs hold credentials: keep the folder private to the user.
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(SourcesDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return created;
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
            throw new ConfigException($"cannot read the pipelines folder: {e.Message}", PipelinesDirectory, inner: e);
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

    /// <summary>A pipeline name must be usable as a file name and a lake key segment.</summary>
    public static bool IsValidPipelineName(string name) => Lake.LakeNames.IsValidPipelineName(name);

    internal static string UserHome() =>
        Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    /// <summary>Expands a leading <c>~/</c> to the user's home directory.</summary>
    public static string ExpandHome(string path) =>
        path == "~" ? UserHome() : path.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(UserHome(), path[2..]) : path;
}

namespace DataSpoc.Pipe.Cloud.Tests.Servers;

/// <summary>Finds the npm-installed test servers that <c>.ci/setup</c> puts in <c>.ci/.tools/node_modules/.bin</c>.</summary>
public static class TestTools
{
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>The path of an installed server binary; fails the test, naming the fix, when it is missing.</summary>
    public static string NodeBinary(string name)
    {
        var path = Path.Combine(RepositoryRoot, ".ci", ".tools", "node_modules", ".bin", name);
        if (!File.Exists(path))
            throw new InvalidOperationException(
                $"test server '{name}' is not installed (looked for {path}); run .ci/setup (or ./test.sh) to install the npm test servers");
        return path;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "DataSpoc.Pipe.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"cannot find the repository root (DataSpoc.Pipe.slnx) above {AppContext.BaseDirectory}");
    }
}

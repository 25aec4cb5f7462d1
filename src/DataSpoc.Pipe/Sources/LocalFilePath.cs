namespace DataSpoc.Pipe.Sources;

/// <summary>
/// A local file for something that needs a path (a tap subprocess, a Parquet reader): a file that already exists,
/// kept; or a scratch file written for the purpose, private to the user (0600: it may hold config secrets or source
/// rows) and deleted on dispose.
/// </summary>
internal sealed class LocalFilePath : IAsyncDisposable
{
    private readonly bool _scratch;

    private LocalFilePath(string path, bool scratch)
    {
        Path = path;
        _scratch = scratch;
    }

    public string Path { get; }

    public static LocalFilePath Existing(string path) => new(path, scratch: false);

    /// <summary>A new scratch file (<see cref="Lake.LakePaths.ScratchFile"/>) filled by <paramref name="write"/>; deleted again if writing fails.</summary>
    public static async Task<LocalFilePath> ScratchAsync(string purpose, string extension, Func<Stream, Task> write)
    {
        var path = Lake.LakePaths.ScratchFile(purpose, extension);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, BufferSize = 1 << 16, Options = FileOptions.Asynchronous };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            await using var target = new FileStream(path, options);
            await write(target).ConfigureAwait(false);
        }
        catch
        {
            File.Delete(path);
            throw;
        }
        return new LocalFilePath(path, scratch: true);
    }

    public ValueTask DisposeAsync()
    {
        if (_scratch)
        {
            // A scratch file left behind (held open elsewhere on Windows) costs disk, not data.
            try { File.Delete(Path); } catch (IOException) { }
        }
        return ValueTask.CompletedTask;
    }
}

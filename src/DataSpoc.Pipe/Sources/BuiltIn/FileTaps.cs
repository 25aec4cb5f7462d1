using System.Text.Json.Nodes;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>The settings every file tap reads: where the files are, the configured streams, and the bucket options.</summary>
internal interface IFileTapSettings<TSettings, TStream> where TSettings : IFileTapSettings<TSettings, TStream> where TStream : IFileStream
{
    /// <summary>Reads and checks the tap's config; errors name the key.</summary>
    static abstract TSettings From(JsonObject config);

    /// <summary>The globs that pick the tap's files inside a folder entry.</summary>
    static abstract IReadOnlyList<string> FolderPatterns { get; }

    /// <summary>Whether a folder or glob reads a table with Iceberg or Delta metadata as its live files (<see cref="LakeTableFolders"/>).</summary>
    static virtual bool ReadsLakeTables => false;

    List<string> Entries { get; }
    List<TStream> Streams { get; }
    Dictionary<string, string> StorageOptions { get; }
}

/// <summary>
/// What a file tap (csv, jsonl, parquet) defines for itself; discover and sync are the steps they share
/// (<see cref="FileTaps"/>), so a file tap implements only the members below.
/// </summary>
internal interface IFileTap<TSettings, TStream> : ITypedBuiltInTap
    where TSettings : IFileTapSettings<TSettings, TStream> where TStream : IFileStream
{
    Task IBuiltInTap.DiscoverAsync(JsonObject config, Stream output, CancellationToken cancellationToken)
        => FileTaps.DiscoverAsync(this, config, output, cancellationToken);

    Task IBuiltInTap.SyncAsync(JsonObject config, JsonObject? state, JsonObject? catalog, Stream output, CancellationToken cancellationToken)
        => this.SyncAsJsonAsync(config, state, catalog, output, cancellationToken);

    Task ITypedBuiltInTap.SyncAsync(JsonObject config, JsonObject? state, JsonObject? catalog, RecordSink sink, CancellationToken cancellationToken)
        => FileTaps.SyncAsync(this, config, state, catalog, sink, cancellationToken);

    ObjectStoreFactory Stores { get; }

    void IBuiltInTap.CheckPipelineConfig(JsonObject config) => FileTaps.RequireAbsolutePaths(Name, config);

    /// <summary>Assigns the resolved files to streams (<see cref="FileStreams.Assign"/> with the tap's own streams).</summary>
    List<TStream> Assign(TSettings settings, List<SourceFile> files);

    /// <summary>A stream's schema for the catalog, from all of its files.</summary>
    Task<JsonObject> CatalogSchemaAsync(TSettings settings, TStream stream, CancellationToken cancellationToken);

    /// <summary>
    /// Starts a stream's sync over <paramref name="toRead"/> (its SCHEMA) and returns what writes one file's rows; null,
    /// sending nothing, when the files hold no column at all (empty files): such a stream has nothing to land. Only the
    /// columns <paramref name="selection"/> does not leave out are read (<see cref="TapCatalog.IsDeselected"/>).
    /// </summary>
    Task<Func<SourceFile, Task>?> StartStreamAsync(TSettings settings, TStream stream, IReadOnlyList<SourceFile> toRead, TapCatalog selection, RecordSink sink,
        CancellationToken cancellationToken);
}

/// <summary>
/// The discover and sync every file tap shares: read the settings, resolve the files (local or in a bucket) and assign
/// them to streams; then one catalog entry per stream, or <see cref="FileStreams.SyncAsync"/> over the changed files.
/// </summary>
internal static class FileTaps
{
    public static async Task DiscoverAsync<TSettings, TStream>(IFileTap<TSettings, TStream> tap, JsonObject config, Stream output, CancellationToken cancellationToken)
        where TSettings : IFileTapSettings<TSettings, TStream> where TStream : IFileStream
    {
        var settings = TSettings.From(config);
        await using var files = new SourceFiles(tap.Name, tap.Stores, settings.StorageOptions, TSettings.ReadsLakeTables);
        var entries = new List<JsonObject>();
        foreach (var stream in await PlanAsync(tap, settings, files, cancellationToken).ConfigureAwait(false))
        {
            var schema = await tap.CatalogSchemaAsync(settings, stream, cancellationToken).ConfigureAwait(false);
            entries.Add(TapCatalog.Entry(stream.Name, stream.Name, schema, stream.KeyProperties));
        }
        await TapCatalog.WriteAsync(entries, output, cancellationToken).ConfigureAwait(false);
    }

    public static async Task SyncAsync<TSettings, TStream>(IFileTap<TSettings, TStream> tap, JsonObject config, JsonObject? state, JsonObject? catalog, RecordSink sink,
        CancellationToken cancellationToken)
        where TSettings : IFileTapSettings<TSettings, TStream> where TStream : IFileStream
    {
        var settings = TSettings.From(config);
        await using var files = new SourceFiles(tap.Name, tap.Stores, settings.StorageOptions, TSettings.ReadsLakeTables);
        var streams = await PlanAsync(tap, settings, files, cancellationToken).ConfigureAwait(false);
        foreach (var notice in files.Notices) sink.WriteNotice(notice);
        await FileStreams.SyncAsync(streams, state, catalog, sink,
            (stream, toRead, selection) => tap.StartStreamAsync(settings, stream, toRead, selection, sink, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A pipeline's <c>path</c> and <c>files</c> are absolute, <c>~/...</c> or bucket URIs: a relative one would be read
    /// from whatever folder the run starts in, so a scheduled run (started in the home folder) would read another folder
    /// than the run tried by hand, into the same table.
    /// </summary>
    public static void RequireAbsolutePaths(string tap, JsonObject config)
    {
        var settings = new TapConfig(tap, config);
        var entries = settings.Strings("files").Select((value, i) => (Key: $"files[{i}]", Value: value)).ToList();
        if (settings.String("path") is { } path) entries.Add(("path", path));
        foreach (var (key, value) in entries)
        {
            var expanded = Config.PipeHome.ExpandHome(value);
            if (value.Contains("://", StringComparison.Ordinal) || Path.IsPathRooted(expanded)) continue;
            // '~/...' is what the rule asks for: relative only because HOME is, which is what to fix.
            if (expanded != value)
                throw TapException.Configuration($"{tap} tap: config key '{key}' is '{value}', but HOME ('{Config.PipeHome.UserHome()}') is not " +
                    $"an absolute path, so it would be read as the relative '{expanded}' from the folder the run is started in: set HOME " +
                    "to an absolute path, or write the path absolute");
            throw TapException.Configuration($"{tap} tap: config key '{key}' is the relative path '{value}', which a run would read from the folder " +
                "it is started in (a scheduled run starts in the home folder): write it absolute or as '~/...'");
        }
    }

    private static async Task<List<TStream>> PlanAsync<TSettings, TStream>(IFileTap<TSettings, TStream> tap, TSettings settings, SourceFiles files, CancellationToken cancellationToken)
        where TSettings : IFileTapSettings<TSettings, TStream> where TStream : IFileStream
        => tap.Assign(settings, await files.ResolveAsync(settings.Entries, TSettings.FolderPatterns, cancellationToken).ConfigureAwait(false));
}

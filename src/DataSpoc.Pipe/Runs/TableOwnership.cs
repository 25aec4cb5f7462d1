using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Runs;

/// <summary>
/// Whether a run may write the table its stream lands in, when the bucket's manifest says another pipeline, or another
/// path, had it: the manifest names a table by source and stream (not by path), and a replace deletes every row of it.
/// </summary>
internal static class TableOwnership
{
    /// <summary>
    /// The manifest entry of this table, or null when there is none. An entry of the same key at another path is another
    /// table, whose entry (and the replace and merge decisions made from it) this run would take over: refused when
    /// another pipeline wrote it; this pipeline's own (its <c>destination.path</c> changed) moves with a full refresh.
    /// </summary>
    public static ManifestTable? EntryOfThisTable(PipelineDefinition pipeline, string stream, string tableKey, string here, string prefix,
        ManifestTable? previous, bool full, List<string> notices)
    {
        if (previous?.Location is not { } location || location.EndsWith("/" + prefix.TrimEnd('/'), StringComparison.Ordinal)) return previous;
        if (previous.Pipeline is { } writer && writer != pipeline.Name)
            throw new TableOwnerException($"stream '{stream}': the bucket's manifest lists table {tableKey} at {location} (pipeline '{writer}'), and this " +
                $"run writes it at {here}: the manifest names a table by source and stream, so a bucket holds a source's stream under one path only; give this pipeline its own source.name");
        if (!full)
            throw new TableOwnerException($"stream '{stream}': the bucket's manifest lists this pipeline's table {tableKey} at {location}, and this run " +
                $"writes it at {here} (destination.path changed?): a full refresh (--full) starts the table at the new path; the files at the old one stay where they are");
        notices.Add($"stream '{stream}': table {tableKey} moves from {location} to {here}: the manifest lists the new path; the files at the old one stay where they are");
        return null;
    }

    /// <summary>
    /// Refuses a run whose bucket names the folder of an Iceberg table the manifest lists by another spelling of it
    /// (<c>file://</c>: a symbolic link and its target, <paramref name="previous"/> being <see cref="EntryOfThisTable"/>'s
    /// entry, at this table's path). Iceberg metadata holds absolute URIs, and a commit accepts only those under its own
    /// location: the run would land its files and then fail at the Iceberg commit, leaving a journal. So it lands nothing.
    /// Plain Parquet and Delta tables (keys relative to the table) take any spelling.
    /// </summary>
    public static void CheckBucketSpelling(string stream, string tableKey, Storage.BucketUri bucket, string prefix, ManifestTable? previous)
    {
        var location = bucket.Canonical + "/" + prefix.TrimEnd('/');
        if (previous is not { IcebergMetadata: not null } || previous.Location == location
            || !previous.Location.EndsWith("/" + prefix.TrimEnd('/'), StringComparison.Ordinal)) return;
        var recorded = previous.Location[..^(prefix.TrimEnd('/').Length + 1)];
        throw new TableOwnerException($"stream '{stream}': the bucket's manifest lists the Iceberg table {tableKey} at {previous.Location}, and this run's " +
            $"bucket {bucket.Canonical} names it {location}: Iceberg metadata holds absolute URIs, and its commit would refuse the table's own, written as " +
            $"{recorded}, as outside the table's location. Nothing was written; set destination.bucket to {recorded}, the spelling the manifest records " +
            "(for a file:// bucket, two paths of one folder, such as a symbolic link and its target, are two spellings)");
    }

    /// <summary>
    /// The problem with a stream's table folder, given its stream and table name, when the bucket's manifest lists a table
    /// at a folder differing from it only in case (<c>raw/shop/cs/</c> landed by an earlier run, <c>raw/shop/CS/</c> now);
    /// else null. Glue, Hive and Trino catalogs and a case-insensitive file system (a macOS or Windows <c>file://</c>
    /// bucket) take the two for one table, as a run refuses two such streams of its own (<see cref="RunIngest"/>). The
    /// manifest the run has read already is the source, not a listing of the bucket. A folder the manifest lists itself is
    /// let be: the collision is older than this run, and refusing it would stop a pipeline that has landed there all along.
    /// </summary>
    public static Func<string, string, string?> LandedCaseTwins(PipelineDefinition pipeline, Manifest manifest, Storage.BucketUri bucket,
        string basePath, string sourceName)
    {
        Dictionary<string, List<(string Key, string Prefix, ManifestTable Table)>>? byFolder = null;
        return (stream, table) =>
        {
            // Built at the first SCHEMA, once: a run of thousands of streams into a bucket of thousands of tables.
            byFolder ??= manifest.Tables
                .Select(t => (t.Key, Prefix: bucket.KeyPrefixOf(t.Value.Location), Table: t.Value))
                .Where(t => t.Prefix is not null)
                .GroupBy(t => t.Prefix!, LookAlikeNames.Comparer)
                .ToDictionary(g => g.Key, g => g.Select(t => (t.Key, t.Prefix!, t.Table)).ToList(), LookAlikeNames.Comparer);
            var prefix = LakePaths.TablePrefix(basePath, sourceName, table);
            if (!byFolder.TryGetValue(prefix, out var listed) || listed.Any(t => t.Prefix == prefix)) return null;
            var (key, twin, entry) = listed[0];
            var writer = entry.Pipeline == pipeline.Name ? "an earlier run of this pipeline" : $"pipeline '{entry.Pipeline}'";
            return $"stream '{stream}' of pipeline '{pipeline.Name}' lands in table folder {bucket.Canonical}/{prefix}, and the bucket's manifest lists " +
                $"table {key} at {bucket.Canonical}/{twin} (landed by {writer}): the two folders differ only {LookAlikeNames.HowTheyDiffer(prefix, twin)}; catalogs such as Glue, Hive and Trino " +
                "and case-insensitive file systems would treat them as one table. Land only one of them: rename the stream in the tap, leave it out of " +
                "source.streams, or give this pipeline a folder of its own (source.name or destination.path)";
        };
    }

    /// <summary>
    /// Refuses a replace of a table another pipeline of the home wrote last from another source (two built-in csv pipelines
    /// of different folders land one table): it would delete that pipeline's rows. A full reload beside an incremental
    /// pipeline of the same source, or after the other pipeline left the home, goes ahead, and the run log says whose rows
    /// it replaced.
    /// </summary>
    public static void CheckReplace(PipelineDefinition pipeline, string stream, string tableKey, string here, ManifestTable? previous,
        HomePipelines? homePipelines, List<string> notices)
    {
        if (previous?.Pipeline is not { } owner || owner == pipeline.Name) return;
        var table = $"stream '{stream}': table {tableKey} ({here}) was last written by pipeline '{owner}'";
        if (homePipelines?.Contains(owner) == true && !pipeline.Source.ReadsTheSameSourceAs(homePipelines.SourceOf(owner)))
            throw new TableOwnerException($"{table}, which reads another source: this run of '{pipeline.Name}' would replace the table and delete " +
                $"the rows '{owner}' wrote. Give one of them its own table (source.name or destination.path), or remove '{owner}' if '{pipeline.Name}' takes its place");
        notices.Add(table + (homePipelines is null ? "" : homePipelines.Contains(owner) ? ", which reads the same source" : ", which is not in this home") +
            ": this run replaced its rows");
    }

    /// <summary>
    /// An incremental run into a table whose last writer is not in the home any more but left its state in the bucket,
    /// while this pipeline has none: the pipeline was renamed (or re-created under another name). State is keyed by
    /// pipeline name and the table by source and stream, so the run extracts everything again: appended, every earlier
    /// row would be in the table twice, silently, so an append is refused before its commit; a merge rewrites the keys
    /// it sends (no duplicates) and only gets a notice. Asked only when the writer differs: one or two listings.
    /// </summary>
    public static async Task CheckStateLeftBehindAsync(IObjectStore store, PipelineDefinition pipeline, string stream, string tableKey, string here,
        ManifestTable? previous, HomePipelines? homePipelines, List<string> notices, CancellationToken cancellationToken)
    {
        if (previous is null || homePipelines is null) return;
        if (await StateLeftBehindAsync(store, pipeline, previous.Pipeline, homePipelines.Contains, cancellationToken).ConfigureAwait(false) is not { } owner) return;
        var problem = StateLeftBehind(pipeline, owner, pipeline.Destination.Bucket, $"stream '{stream}': table {tableKey} ({here})");
        if (pipeline.Destination.WriteMode == WriteMode.Merge)
            notices.Add(problem + ": this run extracts everything again; merged by key, the rows it sends again replace the earlier ones");
        else
            throw new TableOwnerException(problem + ": this run would extract everything again and append every earlier row a second time. " + WaysOut(pipeline, owner, pipeline.Destination.Bucket));
    }

    /// <summary>
    /// The pipeline <paramref name="writer"/> (a table's last writer) when it is another pipeline, not in the home, whose
    /// state is in the bucket while <paramref name="pipeline"/> has none; else null. <c>validate</c> asks it too.
    /// </summary>
    internal static async Task<string?> StateLeftBehindAsync(IObjectStore store, PipelineDefinition pipeline, string? writer, Func<string, bool> inHome,
        CancellationToken cancellationToken)
    {
        if (writer is not { Length: > 0 } owner || owner == pipeline.Name || inHome(owner) || !LakeNames.IsValidPipelineName(owner)) return null;
        if (!await store.ExistsAsync(LakePaths.StateKey(owner), cancellationToken).ConfigureAwait(false)) return null;
        return await store.ExistsAsync(LakePaths.StateKey(pipeline.Name), cancellationToken).ConfigureAwait(false) ? null : owner;
    }

    /// <summary>The problem both a run and <c>validate</c> state, from "<paramref name="table"/> was last written by ...".</summary>
    internal static string StateLeftBehind(PipelineDefinition pipeline, string owner, string bucket, string table) =>
        $"{table} was last written by pipeline '{owner}', which is not in this home; its state is still in the bucket " +
        $"({bucket.TrimEnd('/')}/{LakePaths.StateKey(owner)}) and '{pipeline.Name}' has none";

    /// <summary>What to do: carry the state over (a renamed pipeline), or reload the table.</summary>
    internal static string WaysOut(PipelineDefinition pipeline, string owner, string bucket) =>
        $"If '{pipeline.Name}' is '{owner}' renamed, copy its state first (README: Renaming a pipeline): " +
        $"{bucket.TrimEnd('/')}/{LakePaths.StateKey(owner)} to {bucket.TrimEnd('/')}/{LakePaths.StateKey(pipeline.Name)}; " +
        "or reload the table from the source with run --full (it replaces the table's rows)";
}

/// <summary>
/// A run that would take over another pipeline's table: replace one another pipeline of the home wrote last (two
/// pipelines with the same source name, stream and path), or write a source's stream under a second path of a bucket
/// whose manifest lists it under another. It fails before its commit, so nothing is written or deleted.
/// </summary>
public sealed class TableOwnerException(string message) : PipeException(message);

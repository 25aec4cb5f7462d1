using DataSpoc.Pipe.Sources;
using System.Globalization;

namespace DataSpoc.Pipe.Lake;

/// <summary>Every key the lake contract defines, in one place. Keys are relative to the bucket (its prefix applied by the store).</summary>
public static class LakePaths
{
    public const string MetaRoot = ".dataspoc";
    public const string ManifestKey = ".dataspoc/manifest.json";
    public const string HiveNullPartition = "__HIVE_DEFAULT_PARTITION__";

    public static string StateKey(string pipeline) => $".dataspoc/state/{Safe(pipeline)}/state.json";
    /// <summary>Beside the state: which tables (source and path) the pipeline that wrote it lands (see <see cref="StateOwner"/>).</summary>
    public static string StateOwnerKey(string pipeline) => $".dataspoc/state/{Safe(pipeline)}/owner.json";
    public static string LogsPrefix(string pipeline) => $".dataspoc/logs/{Safe(pipeline)}/";
    public static string LogKey(string pipeline, DateTimeOffset startedAt, string runId) =>
        LogsPrefix(pipeline) + startedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH-mm-ss'Z'", CultureInfo.InvariantCulture) + "_" + runId + ".json";
    /// <summary>The run id in a log key: <c>…/2025-01-20T10-05-12Z_ab12cd.json</c> -> <c>ab12cd</c>.</summary>
    public static string RunIdOfLogKey(string key)
    {
        var name = Path.GetFileNameWithoutExtension(key);
        var underscore = name.IndexOf('_');
        return underscore < 0 ? name : name[(underscore + 1)..];
    }
    /// <summary>When the run of a log key started (to the second, from its name); null for a name that is not a log key's.</summary>
    public static DateTimeOffset? StartOfLogKey(string key)
    {
        var name = Path.GetFileNameWithoutExtension(key);
        var underscore = name.IndexOf('_');
        return underscore > 0 && DateTime.TryParseExact(name[..underscore], "yyyy-MM-dd'T'HH-mm-ss'Z'", CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at) ? new DateTimeOffset(at, TimeSpan.Zero) : null;
    }
    /// <summary>Where <c>validate</c> writes the object that proves a bucket is writable (deleted right after).</summary>
    public const string ProbePrefix = ".dataspoc/probe/";
    public static string ProbeKey(string nonce) => $"{ProbePrefix}validate-{nonce}.txt";
    /// <summary>The commit journal of a pipeline's run in progress (see <see cref="LakeCommitter"/>).</summary>
    public static string JournalKey(string pipeline) => $"{JournalPrefix}{TableName(pipeline)}.json";

    /// <summary>The folder of every pipeline's commit journal (<see cref="JournalKey"/>).</summary>
    public const string JournalPrefix = ".dataspoc/journal/";
    /// <summary>
    /// The files <c>maintain</c> is about to delete from one table of a pipeline, saved before its Iceberg expiry commit
    /// (after which the expired snapshots, and so those files, are no longer named by the table): a maintain killed, or
    /// failing, before it deleted them all leaves it, and the next maintain deletes those no snapshot needs.
    /// </summary>
    public static string ExpiryJournalKey(string pipeline) => $"{ExpiryPrefix}{TableName(pipeline)}.json";
    public const string ExpiryPrefix = ".dataspoc/expiry/";
    /// <summary>
    /// The claim a commit creates (only if absent) on a data file it rewrote into another (a merge or a compaction of a
    /// plain Parquet table) before anything of it lands: one commit only may remove a file (see <see cref="LakeCommitter"/>).
    /// </summary>
    public static string SupersededClaimKey(string dataFileKey) => $"{ClaimsPrefix}{dataFileKey}.json";
    public const string ClaimsPrefix = ".dataspoc/claims/";
    /// <summary>
    /// The claim a commit creates (only if absent) on a field id it gave a column new to an Iceberg table (its files carry
    /// it) before anything of it lands: two runs that took ids at the same time never both land one id for two columns.
    /// </summary>
    public static string ColumnIdClaimKey(string tablePrefix, int fieldId) =>
        $"{ClaimsPrefix}{tablePrefix}metadata/field-id-{fieldId.ToString(System.Globalization.CultureInfo.InvariantCulture)}.json";
    /// <summary>
    /// The claim a commit holds on a whole table (a merge's, or any commit of an Iceberg/Delta table) from before its files
    /// land until its table metadata is written: such commits of one table follow each other, each re-checking what it
    /// planned against under it (<see cref="CommitPlan.BaseChecks"/>). Not a <see cref="ClaimedFileKey"/> (no <c>.json</c>):
    /// taken again by every commit of the table, its conditional-write lock is never settled.
    /// </summary>
    public static string TableCommitClaimKey(string tablePrefix) => $"{ClaimsPrefix}{tablePrefix}_table-commit.claim";
    /// <summary>The data file a <see cref="SupersededClaimKey"/> claims, else null.</summary>
    public static string? ClaimedFileKey(string claimKey) =>
        claimKey.StartsWith(ClaimsPrefix, StringComparison.Ordinal) && claimKey.EndsWith(".json", StringComparison.Ordinal)
            ? claimKey[ClaimsPrefix.Length..^".json".Length] : null;
    /// <summary>Where a run spools its finished files inside a <c>file://</c> bucket (a relative path), so landing is a rename.</summary>
    public static string SpoolPrefix(string pipeline, string runId) => $".dataspoc/tmp/{TableName(pipeline)}/{runId}";
    public static string LockKey(string pipeline) => $".dataspoc/locks/{Safe(pipeline)}.lock";
    /// <summary>
    /// What the keys of a pipeline's locks start with: its own lock and its split parts' (<c>&lt;pipeline&gt;.split-part-NNNN</c>);
    /// a pipeline whose name extends this one's shares the prefix.
    /// </summary>
    public static string LocksPrefix(string pipeline) => $".dataspoc/locks/{Safe(pipeline)}";
    private const string SplitPartLockInfix = ".split-part-";
    /// <summary>The name of the lock one part index of a pipeline's split runs holds (its key is <see cref="LockKey"/> of it).</summary>
    internal static string SplitPartLockName(string pipeline, int part) => pipeline + SplitPartLockInfix + part.ToString("0000", CultureInfo.InvariantCulture);
    /// <summary>What the keys of a pipeline's split part locks start with; the part index follows, then <c>.lock</c>.</summary>
    internal static string SplitPartLocksPrefix(string pipeline) => LocksPrefix(pipeline) + SplitPartLockInfix;
    /// <summary>The part index whose lock <paramref name="lockKey"/> is (a key under <see cref="SplitPartLocksPrefix"/>), else null.</summary>
    internal static int? SplitPartOfLock(string pipeline, string lockKey)
    {
        var prefix = SplitPartLocksPrefix(pipeline);
        return lockKey.StartsWith(prefix, StringComparison.Ordinal) && lockKey.EndsWith(".lock", StringComparison.Ordinal)
            && int.TryParse(lockKey.AsSpan(prefix.Length, lockKey.Length - prefix.Length - ".lock".Length), NumberStyles.None, CultureInfo.InvariantCulture, out var part)
            ? part : null;
    }
    public static string QuarantineKey(string pipeline, string runId, string stream) =>
        $".dataspoc/quarantine/{Safe(pipeline)}/{runId}/{TableName(stream)}.jsonl";

    /// <summary>
    /// Where the workers of one split run (<c>run NAME --part I/N</c>) stage their parts until one commit lands them all:
    /// <c>.dataspoc/staging/&lt;pipeline&gt;/&lt;split run&gt;/</c>, under the metadata root, so no reader of the lake's
    /// <c>&lt;path&gt;/&lt;source&gt;/&lt;table&gt;/</c> layout sees a staged file.
    /// </summary>
    public static string SplitRunPrefix(string pipeline, string splitRun) => SplitRunsPrefix(pipeline) + LakeNames.Segment(splitRun, "split run") + "/";
    /// <summary>The staging folders of every split run of the pipeline.</summary>
    public static string SplitRunsPrefix(string pipeline) => $".dataspoc/staging/{Safe(pipeline)}/";
    /// <summary>The key ranges every worker of the split run reads (created once, by the first worker, with a conditional write).</summary>
    public static string SplitPlanKey(string pipeline, string splitRun) => SplitRunPrefix(pipeline, splitRun) + "plan.json";
    /// <summary>One part's staged Parquet files (replaced when the part is read again).</summary>
    public static string SplitPartFilesPrefix(string pipeline, string splitRun, int part) =>
        SplitRunPrefix(pipeline, splitRun) + "part-" + part.ToString("0000", CultureInfo.InvariantCulture) + "/";
    /// <summary>The part's completion record (what it staged), created with a conditional write once all its files are staged.</summary>
    public static string SplitPartDoneKey(string pipeline, string splitRun, int part) =>
        SplitRunPrefix(pipeline, splitRun) + "done/part-" + part.ToString("0000", CultureInfo.InvariantCulture) + ".json";
    public static string SplitDonePrefix(string pipeline, string splitRun) => SplitRunPrefix(pipeline, splitRun) + "done/";
    /// <summary>Which part makes the commit (created with a conditional write by a part that saw every part done).</summary>
    public static string SplitCommitClaimKey(string pipeline, string splitRun) => SplitRunPrefix(pipeline, splitRun) + "commit-claim.json";
    /// <summary>Written after the commit: the split run is over and its parts are not read or committed again.</summary>
    public static string SplitCommittedKey(string pipeline, string splitRun) => SplitRunPrefix(pipeline, splitRun) + "committed.json";

    /// <summary>
    /// What marks a file being written on a <c>file://</c> bucket: <c>&lt;folder&gt;/.&lt;name&gt;.tmp-&lt;id&gt;</c> is written,
    /// flushed, then renamed to the key, so no reader sees a partial file; one left by a killed writer is found by this
    /// marker. The leading <c>.</c> hides it from readers that list a table's folder the Hadoop way (Spark, Hive, Trino,
    /// pyarrow take every name not starting with <c>.</c> or <c>_</c>, whatever its extension): a temp data file sits in
    /// its partition folder, complete even, while its commit may still roll back. Builds before wrote the suffix form
    /// <c>&lt;key&gt;.tmp-&lt;id&gt;</c>; a lake may still hold such leftovers, so every test below takes both forms.
    /// </summary>
    private const string TempMarker = ".tmp-";

    /// <summary>The <c>&lt;id&gt;</c> of a temp name: this many hex digits (every build wrote 12).</summary>
    private const int TempIdLength = 12;

    /// <summary>A fresh temp name for writing <paramref name="key"/> (or a local path) atomically: hidden, in the key's folder.</summary>
    internal static string TempNameOf(string key)
    {
        var name = key.LastIndexOf('/') + 1;
        return string.Concat(key.AsSpan(0, name), ".", key.AsSpan(name), TempMarker + Guid.NewGuid().ToString("N")[..TempIdLength]);
    }

    /// <summary>
    /// What a temp name (<paramref name="key"/>, a key, path or file name) has before <c>.tmp-&lt;id&gt;</c>: the key it
    /// is written for (suffix form) or that key with a <c>.</c> before its name (hidden form); empty when it is no temp name.
    /// </summary>
    private static ReadOnlySpan<char> TempStemOf(string key)
    {
        var suffix = TempMarker.Length + TempIdLength;
        if (key.Length <= suffix || !key.AsSpan(key.Length - suffix).StartsWith(TempMarker, StringComparison.Ordinal)) return default;
        foreach (var c in key.AsSpan(key.Length - TempIdLength)) if (!char.IsAsciiHexDigit(c)) return default;
        return key.AsSpan(0, key.Length - suffix);
    }

    /// <summary>Whether <paramref name="key"/> is a temp file of <paramref name="finalKey"/>, in either form.</summary>
    internal static bool IsTempOf(string key, string finalKey)
    {
        var stem = TempStemOf(key);
        if (stem.IsEmpty) return false;
        if (stem.SequenceEqual(finalKey)) return true; // the suffix form of earlier builds
        var name = finalKey.LastIndexOf('/') + 1;
        return stem.Length == finalKey.Length + 1 && stem.StartsWith(finalKey.AsSpan(0, name), StringComparison.Ordinal)
            && stem[name] == '.' && stem[(name + 1)..].SequenceEqual(finalKey.AsSpan(name));
    }

    /// <summary>
    /// Whether a file name (or key) is any temp file, in either form: it ends with <c>.tmp-</c> and the id, so a data file
    /// of a table whose name holds <c>.tmp-</c> (it ends with <c>.parquet</c>) is none.
    /// </summary>
    internal static bool IsTempName(string name) => !TempStemOf(name).IsEmpty;

    /// <summary>Whether a key is the temp file of a Parquet data file (a killed landing's leftover), in either form.</summary>
    internal static bool IsDataTempKey(string key) => TempStemOf(key).EndsWith(".parquet", StringComparison.Ordinal);

    /// <summary>
    /// The local folder of one kind (<c>private</c> for tap configs and state, <c>spool</c> for finished files) of one pipeline
    /// in one bucket, under <paramref name="privateRoot"/>: the pipeline lock is per bucket, so two buckets' pipelines of
    /// the same name may run at once and must not clean each other's folders. The bucket's key is a stable
    /// non-cryptographic hash (XxHash128): a SHA-256 here would load OpenSSL, tens of milliseconds of every run.
    /// </summary>
    internal static string LocalTempFolder(string privateRoot, string kind, string bucketCanonical, string pipeline) =>
        Path.Combine(privateRoot, kind,
            TableName(pipeline) + "-" + Convert.ToHexStringLower(System.IO.Hashing.XxHash128.Hash(System.Text.Encoding.UTF8.GetBytes(bucketCanonical)))[..12]);

    /// <summary>
    /// A local scratch file for one use (<paramref name="purpose"/>: a tap config for discovery, a Delta checkpoint being
    /// built, a remote Parquet file read with random access, a staged file being copied), in <paramref name="folder"/> or
    /// else this process's scratch folder in the user's private temp folder (<see cref="Runs.PrivateTempRoot.ScratchFolder"/>,
    /// mode 0700: such a file may hold credentials or source rows, which a shared <c>/tmp</c> would show to other users);
    /// its user deletes it when done, the next run or <c>maintain</c> if the process was killed.
    /// </summary>
    internal static string ScratchFile(string purpose, string extension, string? folder = null)
    {
        folder ??= Runs.PrivateTempRoot.ScratchFolder(Runs.PrivateTempRoot.ForCurrentUser());
        return Path.Combine(folder, $"dataspoc-{purpose}-{Guid.NewGuid():N}{extension}");
    }

    /// <summary><c>destination.path</c> with slashes trimmed; empty segments, dot segments and '#', '?', '%' are refused.</summary>
    public static string BasePath(string path)
    {
        var trimmed = path.Trim().Trim('/');
        if (trimmed.Length > 0 && !Storage.BucketUri.HasPlainSegments(trimmed))
            throw new ArgumentException($"destination.path '{path}' must not contain empty, '.' or '..' segments");
        if (LakeNames.UriDelimiterIn(trimmed) is { } delimiter)
            throw new ArgumentException($"destination.path '{path}' must not contain '{delimiter}': {LakeNames.UriDelimiterWhy}");
        return trimmed;
    }

    /// <summary><c>&lt;path&gt;/&lt;source&gt;/&lt;table&gt;/</c>.</summary>
    public static string TablePrefix(string basePath, string source, string table) =>
        (basePath.Length > 0 ? basePath + "/" : "") + source + "/" + table + "/";

    /// <summary>The partition folder name for a date, or null when partitioning is <c>none</c>.</summary>
    public static string PartitionFolder(DateOnly? date) =>
        "dt=" + (date is { } d ? d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) : HiveNullPartition);

    /// <summary>
    /// <c>&lt;stem&gt;_&lt;NNNN&gt;_&lt;run&gt;.parquet</c>, the stem being the table's name (<see cref="DataFileStem"/>). The run
    /// id makes the name unique: two pipelines writing one table at the same time both continue after the same highest
    /// index, and must still never pick the same key (a store may not be able to refuse the second writer, e.g. a
    /// multipart upload on Ceph RGW).
    /// </summary>
    public static string DataFileName(string table, int index, string runId) =>
        DataFileStem(table) + "_" + index.ToString("0000", CultureInfo.InvariantCulture) + "_" + runId + ".parquet";

    /// <summary>
    /// How a table's data file names start: its name, or <c>part</c> and its name when that starts with <c>.</c> or
    /// <c>_</c> (Airbyte's <c>_airbyte_raw_users</c>, Stitch's <c>_sdc_rejected</c>): Spark, Hive, Trino and pyarrow take
    /// such names as hidden when they list a folder (as our temp files are meant to be), so the table would read empty.
    /// </summary>
    public static string DataFileStem(string table) => table.Length > 0 && table[0] is '.' or '_' ? "part" + table : table;

    /// <summary>
    /// The index in a data file's name (<c>orders_0007_1a2b3c4d.parquet</c> and the older <c>orders_0007.parquet</c> -> 7)
    /// or -1 when the name is not one of ours. A table whose stem is not its name also takes the names earlier builds gave
    /// its files (the bare name, <c>_x_0007_1a2b3c4d.parquet</c>).
    /// </summary>
    public static int DataFileIndex(string table, string fileName) => ParseDataFileName(table, fileName).Index;

    /// <summary>The run id in a data file's name (<c>orders_0007_1a2b3c4d.parquet</c> -> <c>1a2b3c4d</c>); null for older names without one, or a name not of the table.</summary>
    public static string? DataFileRunId(string table, string fileName) => ParseDataFileName(table, fileName).RunId;

    private static (int Index, string? RunId) ParseDataFileName(string table, string fileName)
    {
        var stem = DataFileStem(table);
        var parsed = ParseDataFileName(stem, table, fileName);
        return parsed.Index >= 0 || stem == table ? parsed : ParseDataFileName(table, table, fileName);
    }

    private static (int Index, string? RunId) ParseDataFileName(string stem, string table, string fileName)
    {
        if (!fileName.StartsWith(stem + "_", StringComparison.Ordinal) || !fileName.EndsWith(".parquet", StringComparison.Ordinal)) return (-1, null);
        var rest = fileName.AsSpan(stem.Length + 1, fileName.Length - stem.Length - 1 - ".parquet".Length);
        string? runId = null;
        var underscore = rest.IndexOf('_');
        if (underscore >= 0)
        {
            var run = rest[(underscore + 1)..];
            if (run.Length == 0 || run.ContainsAnyExcept(RunIdCharacters)) return (-1, null);
            runId = run.ToString();
            rest = rest[..underscore];
        }
        return rest.Length >= 4 && int.TryParse(rest, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? (n, runId) : (-1, null);
    }

    private static readonly System.Buffers.SearchValues<char> RunIdCharacters =
        System.Buffers.SearchValues.Create("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-");

    /// <summary>
    /// Whether <paramref name="key"/> is one of the table's own data files: <c>&lt;prefix&gt;&lt;table&gt;_NNNN.parquet</c>
    /// or the same in one <c>dt=</c> partition folder. Anything else under the table's folder is not the lake's.
    /// </summary>
    public static bool IsDataFileKey(string tablePrefix, string table, string key)
    {
        if (!key.StartsWith(tablePrefix, StringComparison.Ordinal)) return false;
        var rest = key.AsSpan(tablePrefix.Length);
        var slash = rest.IndexOf('/');
        if (slash >= 0)
        {
            if (!rest.StartsWith("dt=", StringComparison.Ordinal) || rest[(slash + 1)..].Contains('/')) return false;
            rest = rest[(slash + 1)..];
        }
        return DataFileIndex(table, rest.ToString()) >= 0;
    }

    /// <summary>
    /// The <c>&lt;source&gt;</c> folder a pipeline's tap command lands in: <c>source.name</c>, else <see cref="SourceName(string)"/>
    /// of the tap (a run of a source written in code names it by its own default instead).
    /// </summary>
    public static string SourceFolderOf(Config.SourceDefinition source) => LakeNames.Source(source.Name ?? SourceName(source.Tap));

    /// <summary>
    /// The <c>&lt;source&gt;</c> folder from a tap command: executable name without directory, extension and leading <c>tap-</c>.
    /// <c>python3 my_tap.py</c> names the script, not the interpreter.
    /// </summary>
    public static string SourceName(string tap) => SourceName(CommandLine.Split(tap));

    /// <summary><see cref="SourceName(string)"/> of a tap command already split into its words (as the tap is started).</summary>
    public static string SourceName(IReadOnlyList<string> words)
    {
        if (words.Count == 0) throw new ArgumentException("source.tap is empty");
        var exe = words[0];
        var name = Path.GetFileName(exe);
        if (words.Count > 1 && IsInterpreter(name))
        {
            var script = words.Skip(1).FirstOrDefault(w => !w.StartsWith('-'));
            if (script is not null) name = Path.GetFileName(script);
        }
        var dot = name.IndexOf('.');
        if (dot > 0) name = name[..dot];
        if (name.StartsWith("tap-", StringComparison.OrdinalIgnoreCase) && name.Length > 4) name = name[4..];
        return LakeNames.Segment(name, "source");
    }

    private static bool IsInterpreter(string exe) =>
        exe.StartsWith("python", StringComparison.Ordinal) || exe is "node" or "sh" or "bash" or "ruby" or "perl" or "dotnet" or "uv" or "uvx" or "env";

    /// <summary>A Singer stream name made safe for a key (<see cref="LakeNames.Table"/>).</summary>
    public static string TableName(string stream) => LakeNames.Table(stream);

    private static string Safe(string pipeline) => LakeNames.Segment(pipeline, "pipeline");
}

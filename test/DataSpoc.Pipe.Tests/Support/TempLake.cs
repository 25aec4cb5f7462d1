using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;
using Xunit;

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>A temporary file:// bucket, with helpers to run pipelines into it and read back what landed.</summary>
public sealed class TempLake : IDisposable
{
    public TempLake()
    {
        Root = Path.Combine(Path.GetTempPath(), "dsp-test-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }
    public string Bucket => "file://" + Root;

    public static string Asset(string name) => Path.Combine(AppContext.BaseDirectory, "Assets", name);
    public static string ReplayTap => "python3 " + Asset("replay_tap.py");

    /// <summary>Writes Singer lines to a file in the lake's scratch area and returns its path.</summary>
    public string WriteSinger(string name, params string[] lines)
    {
        var dir = Path.Combine(Root, "..", Path.GetFileName(Root) + "-inputs");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    /// <summary>
    /// Where a pipeline of this lake "was loaded from" (a file that need not exist, beside the inputs): the caches that
    /// live beside a pipeline file, such as what the tap says of itself, go to that folder.
    /// </summary>
    public string PipelineFile(string name)
    {
        var dir = Path.Combine(Root, "..", Path.GetFileName(Root) + "-inputs");
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, name + ".yaml");
    }

    public PipelineDefinition Pipeline(string name, string singerFile, Func<PipelineDefinition, PipelineDefinition>? change = null, JsonObject? extraConfig = null)
    {
        var config = new JsonObject { ["file"] = singerFile };
        if (extraConfig is not null) foreach (var (k, v) in extraConfig) config[k] = v?.DeepClone();
        var p = new PipelineDefinition
        {
            Name = name,
            Source = new SourceDefinition { Tap = ReplayTap, InlineConfig = config, Name = "test" },
            Destination = new DestinationDefinition { Bucket = Bucket },
            Incremental = new IncrementalSettings { Enabled = true },
        };
        return change is null ? p : change(p);
    }

    public static Task<RunResult> RunAsync(PipelineDefinition p, bool full = false, PipelineRunner? runner = null) =>
        (runner ?? new PipelineRunner(new ObjectStoreFactory())).RunAsync(p, new RunOptions { Full = full }, CancellationToken.None);

    /// <summary>A pipeline of the built-in tap <paramref name="tap"/> with an inline config, landing in this lake.</summary>
    public PipelineDefinition BuiltInPipeline(string name, string tap, JsonObject config) => new()
    {
        Name = name,
        Source = new SourceDefinition { Tap = tap, InlineConfig = config },
        Destination = new DestinationDefinition { Bucket = Bucket },
    };

    /// <summary>Runs a built-in tap's pipeline in-process and (unless <paramref name="succeed"/> is false) asserts it succeeded.</summary>
    public static async Task<RunResult> RunBuiltInAsync(PipelineDefinition pipeline, bool succeed = true)
    {
        Assert.True(BuiltInTaps.TryGet(pipeline.Source.Tap, out var tap));
        var result = await new PipelineRunner(new ObjectStoreFactory()).RunAsync(pipeline, new RunOptions { Source = new BuiltInSource(tap) }, CancellationToken.None);
        if (succeed) Assert.True(result.Succeeded, $"run failed: {result.Log.Error} / {result.Log.Tap?.StderrTail}");
        return result;
    }

    /// <summary>Every file below the bucket, as keys relative to it.</summary>
    public List<string> Keys() => Directory.EnumerateFiles(Root, "*", SearchOption.AllDirectories)
        .Select(f => Path.GetRelativePath(Root, f).Replace('\\', '/')).Order(StringComparer.Ordinal).ToList();

    public List<string> ParquetKeys() => Keys().Where(k => k.EndsWith(".parquet", StringComparison.Ordinal) && !k.StartsWith(".dataspoc", StringComparison.Ordinal)).ToList();

    public Manifest Manifest() => LakeJson.Deserialize<Manifest>(File.ReadAllBytes(Path.Combine(Root, LakePaths.ManifestKey)), "manifest");

    /// <summary>A table's row count, files and bytes as its manifest entry says.</summary>
    public (long Rows, long Files, long Bytes) ManifestTotals(string tableKey)
    {
        var entry = Manifest().Tables[tableKey];
        return (entry.RowCount, entry.Stats.Files, entry.Stats.Bytes);
    }

    /// <summary>
    /// What a plain Parquet table's folder (<c>raw/test/k</c>) holds: the rows DuckDB reads from its data files, how many
    /// there are and their bytes, to compare with <see cref="ManifestTotals"/>.
    /// </summary>
    public (long Rows, long Files, long Bytes) PlainTableTotals(string folder)
    {
        var files = Directory.EnumerateFiles(Path.Combine(Root, folder), "*.parquet", SearchOption.AllDirectories).ToList();
        var rows = files.Count == 0 ? 0 : long.Parse(Query($"SELECT count(*) FROM read_parquet('{{lake}}/{folder}/**/*.parquet')")[0][0]!, System.Globalization.CultureInfo.InvariantCulture);
        return (rows, files.Count, files.Sum(f => new FileInfo(f).Length));
    }

    public JsonNode? State(string pipeline) =>
        File.Exists(Path.Combine(Root, LakePaths.StateKey(pipeline))) ? JsonNode.Parse(File.ReadAllText(Path.Combine(Root, LakePaths.StateKey(pipeline)))) : null;

    public List<RunLog> Logs(string pipeline)
    {
        var dir = Path.Combine(Root, LakePaths.LogsPrefix(pipeline));
        return Directory.Exists(dir)
            ? Directory.GetFiles(dir).Order(StringComparer.Ordinal).Select(f => LakeJson.Deserialize<RunLog>(File.ReadAllBytes(f), "log")).ToList()
            : [];
    }

    /// <summary>Runs a DuckDB query over the lake (use {lake} for the root path) and returns rows as string lists.</summary>
    public List<List<string?>> Query(string sql) => DuckDbSessions.Use(conn =>
    {
        using var cmd = conn.CreateCommand();
        cmd.CommandText = sql.Replace("{lake}", Root);
        using var reader = cmd.ExecuteReader();
        var rows = new List<List<string?>>();
        while (reader.Read())
        {
            var row = new List<string?>();
            for (var i = 0; i < reader.FieldCount; i++) row.Add(reader.IsDBNull(i) ? null : Format(reader.GetValue(i)));
            rows.Add(row);
        }
        return rows;
    });

    private static string Format(object v) => v switch
    {
        DateTime dt => dt.ToString("yyyy-MM-dd HH:mm:ss.ffffff", System.Globalization.CultureInfo.InvariantCulture),
        double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        decimal m => m.ToString(System.Globalization.CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        _ => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };

    public void Dispose()
    {
        try { Directory.Delete(Root, true); } catch (IOException) { }
        try { Directory.Delete(Root + "-inputs", true); } catch (IOException) { }
    }
}

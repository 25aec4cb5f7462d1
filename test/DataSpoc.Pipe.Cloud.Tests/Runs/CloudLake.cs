using System.Globalization;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DuckDB.NET.Data;

namespace DataSpoc.Pipe.Cloud.Tests.Runs;

/// <summary>
/// A fresh lake under a new prefix of a test bucket: runs pipelines into it (tap: Assets/orders_tap.py) and reads
/// back what landed through the store, downloading Parquet files for DuckDB to read independently.
/// </summary>
public sealed class CloudLake : IAsyncDisposable
{
    /// <summary>When the runs' clock starts, so partition folders are known in advance.</summary>
    public static readonly DateTimeOffset Now = new(2025, 1, 20, 10, 30, 0, TimeSpan.Zero);

    private readonly StoreTarget _target;

    public CloudLake(StoreTarget target) : this(target, target.Uri(StoreTarget.NewPrefix()))
    {
    }

    /// <summary>A lake at a given bucket URI of the target's server (e.g. another container).</summary>
    public CloudLake(StoreTarget target, string bucket)
    {
        _target = target;
        Bucket = bucket;
        Store = target.Factory().Open(Bucket, target.StorageOptions);
    }

    /// <summary>The lake's bucket URI (with its prefix), as a pipeline names it.</summary>
    public string Bucket { get; }

    /// <summary>A store on the lake, talking to the server directly.</summary>
    public IObjectStore Store { get; }

    public static string Tap => "python3 " + Path.Combine(AppContext.BaseDirectory, "Assets", "orders_tap.py");

    public static PipelineDefinition Pipeline(string name, string bucket, int count, string source = "shop", int sleep = 0, int pad = 0, int idBase = 0) => new()
    {
        Name = name,
        Source = new SourceDefinition
        {
            Tap = Tap,
            Name = source,
            InlineConfig = new JsonObject { ["count"] = count, ["sleep"] = sleep, ["pad"] = pad, ["base"] = idBase },
        },
        Destination = new DestinationDefinition { Bucket = bucket },
        Incremental = new IncrementalSettings { Enabled = true },
    };

    public PipelineDefinition Pipeline(string name, int count, string source = "shop", int sleep = 0, int pad = 0, int idBase = 0)
    {
        var pipeline = Pipeline(name, Bucket, count, source, sleep, pad, idBase);
        return pipeline with { Destination = pipeline.Destination with { StorageOptions = _target.StorageOptions } };
    }

    /// <summary>Runs a pipeline the way the CLI does, with the store factory pointing at <paramref name="port"/> (default: the server).</summary>
    public Task<RunResult> RunAsync(PipelineDefinition pipeline, int? port = null, CancellationToken cancellationToken = default) =>
        new PipelineRunner(_target.Factory(port), new ShiftedTime(Now)).RunAsync(pipeline, new RunOptions(), cancellationToken);

    /// <summary>Runs a pipeline with its own runner settings (a short lock lease, say), to the server or <paramref name="port"/>.</summary>
    public Task<RunResult> RunAsync(PipelineDefinition pipeline, TimeSpan lockLease, int? port = null, CancellationToken cancellationToken = default) =>
        new PipelineRunner(_target.Factory(port), new ShiftedTime(Now)) { LockLease = lockLease }.RunAsync(pipeline, new RunOptions(), cancellationToken);

    public async Task<List<string>> KeysAsync() =>
        (await Store.ListAsync("", CancellationToken.None).ToListAsync()).Select(o => o.Key).Order(StringComparer.Ordinal).ToList();

    public async Task<Manifest> ManifestAsync() =>
        LakeJson.Deserialize<Manifest>((await Store.GetAsync(LakePaths.ManifestKey, CancellationToken.None))!.Content, "manifest");

    public async Task<string?> StateAsync(string pipeline) =>
        (await Store.GetAsync(LakePaths.StateKey(pipeline), CancellationToken.None)) is { } state
            ? JsonNode.Parse(state.Content.Span)?.ToJsonString()
            : null;

    /// <summary>Downloads the given Parquet objects and returns (id, customer, amount, created_at) rows read by DuckDB, ordered by id.</summary>
    public Task<List<string>> OrdersAsync(IEnumerable<string> parquetKeys) =>
        QueryAsync(parquetKeys, "select id, customer, amount, created_at from {files} order by id", reader => string.Join("|",
            reader.GetInt64(0).ToString(CultureInfo.InvariantCulture),
            reader.IsDBNull(1) ? "null" : reader.GetString(1),
            reader.GetDouble(2).ToString("R", CultureInfo.InvariantCulture),
            reader.GetDateTime(3).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)));

    /// <summary>"rows|distinct ids|min id|max id" of the given Parquet objects, as DuckDB reads them.</summary>
    public async Task<string> IdSummaryAsync(IEnumerable<string> parquetKeys) =>
        (await QueryAsync(parquetKeys, "select count(*), count(distinct id), min(id), max(id) from {files}",
            reader => $"{reader.GetInt64(0)}|{reader.GetInt64(1)}|{reader.GetInt64(2)}|{reader.GetInt64(3)}")).Single();

    private async Task<List<string>> QueryAsync(IEnumerable<string> parquetKeys, string sql, Func<System.Data.Common.DbDataReader, string> row)
    {
        var dir = Directory.CreateTempSubdirectory("lake-read-").FullName;
        try
        {
            var files = new List<string>();
            foreach (var key in parquetKeys)
            {
                var local = Path.Combine(dir, files.Count + ".parquet");
                await using (var source = await Store.OpenReadAsync(key, CancellationToken.None))
                await using (var file = File.Create(local))
                    await source.CopyToAsync(file);
                files.Add(local);
            }
            using var connection = new DuckDBConnection("DataSource=:memory:");
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SET TimeZone='UTC'";
            command.ExecuteNonQuery();
            command.CommandText = sql.Replace("{files}", $"read_parquet([{string.Join(",", files.Select(f => $"'{f}'"))}])", StringComparison.Ordinal);
            using var reader = command.ExecuteReader();
            var rows = new List<string>();
            while (reader.Read()) rows.Add(row(reader));
            return rows;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The rows orders_tap.py emits for ids <paramref name="from"/>..<paramref name="to"/> (pad 0), as <see cref="OrdersAsync"/> formats them.</summary>
    public static List<string> ExpectedOrders(int from, int to) =>
        Enumerable.Range(from, to - from + 1).Select(i => string.Join("|",
            i.ToString(CultureInfo.InvariantCulture),
            i % 4 == 0 ? "null" : "c" + i.ToString(CultureInfo.InvariantCulture),
            (i * 1.25).ToString("R", CultureInfo.InvariantCulture),
            $"2025-01-20 10:{i % 60:00}:00")).ToList();

    public ValueTask DisposeAsync() => Store.DisposeAsync();
}

/// <summary>
/// The system clock moved to start at <paramref name="start"/>: partition dates are known in advance, and
/// consecutive runs still get distinct start times (the committer tells a re-applied plan by its start time).
/// </summary>
public sealed class ShiftedTime(DateTimeOffset start) : TimeProvider
{
    private readonly TimeSpan _shift = start - System.GetUtcNow();
    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + _shift;
}

using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Runs;
using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Failures;

/// <summary>
/// Mutation fuzzing of the engine's run path: seeded mutations (<see cref="SingerMutator"/>) of the valid Singer
/// streams in Assets/singer-corpus run in-process through <see cref="PipelineRunner"/> into a fresh file:// lake each.
/// Every input either lands exactly — per stream as many rows as it holds RECORDs (run log, manifest and the Parquet
/// footers agree; a sample is read back with DuckDB and its ids compared), every Parquet file counted by the manifest,
/// the state equal to the input's last STATE — or fails with an error naming the line, leaving no Parquet file, no
/// table and no state. No input may throw out of the runner or take longer than its timeout.
/// The seed is new every run and printed; <c>DATASPOC_FUZZ_SEED=n</c> replays a run, adding <c>DATASPOC_FUZZ_INPUT=i</c> one input.
/// </summary>
public partial class SingerMutationFuzzTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Inputs = 5_000;
    private const int DuckDbEvery = 100;
    private static readonly TimeSpan InputTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Mutated_singer_streams_land_exactly_or_fail_located_and_leave_nothing_partial()
    {
        var seed = FuzzSeed.FromEnvironment();
        var only = int.TryParse(Environment.GetEnvironmentVariable("DATASPOC_FUZZ_INPUT"), out var one) ? one : (int?)null;
        output.WriteLine($"seed {seed} (replay with DATASPOC_FUZZ_SEED={seed}; one input with DATASPOC_FUZZ_INPUT=<i>)");
        var corpus = Directory.GetFiles(TempLake.Asset("singer-corpus"), "*.singer").Order(StringComparer.Ordinal)
            .Select(f => (Name: Path.GetFileName(f), Lines: File.ReadAllBytes(f).AsSpan().TrimEnd((byte)'\n').ToArray().Split((byte)'\n'))).ToList();
        Assert.NotEmpty(corpus);

        var clock = Stopwatch.StartNew();
        var runner = new PipelineRunner(new ObjectStoreFactory());
        int inputs = 0, landed = 0, failedLocated = 0, duckDbChecked = 0;
        var violations = new List<string>();
        var errorKinds = new Dictionary<string, int>(StringComparer.Ordinal);
        // The lakes live in memory where there is a tmpfs: the commit's fsyncs are then free, and 5,000 runs fit in CI time.
        var root = Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), "dsp-fuzz-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        using var stop = new CancellationTokenSource();
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, Inputs), new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = stop.Token }, async (i, _) =>
            {
                if (only is { } o && o != i) return;
                var inputSeed = unchecked(seed * 31 + i);
                var (name, lines) = corpus[i % corpus.Count];
                var (bytes, done) = new SingerMutator(inputSeed).Mutate(lines);
                Interlocked.Increment(ref inputs);
                var folder = Path.Combine(root, "i" + i);
                Directory.CreateDirectory(folder);
                var pipeline = new PipelineDefinition
                {
                    Name = "fuzz",
                    Source = new SourceDefinition { Tap = "fuzz", Name = "test" },
                    Destination = new DestinationDefinition { Bucket = "file://" + folder },
                    Incremental = new IncrementalSettings { Enabled = true },
                };
                string Where() => $"seed {seed} input {i} ({name}; {string.Join("; ", done)})\n{Shorten(Encoding.UTF8.GetString(bytes))}";
                List<string> problems;
                RunResult? result = null;
                try
                {
                    using var timeout = new CancellationTokenSource(InputTimeout);
                    result = await runner.RunAsync(pipeline, new RunOptions { Source = new SingerBytesSource(bytes) }, timeout.Token).WaitAsync(InputTimeout);
                    problems = result.Succeeded ? CheckLanded(folder, bytes, i % DuckDbEvery == 0) : CheckFailedLocated(folder, result, bytes);
                }
                catch (Exception e)
                {
                    problems = [$"the runner threw {e.GetType().Name}: {e.Message}"];
                }
                lock (violations)
                {
                    if (problems.Count > 0)
                    {
                        violations.Add(string.Join("\n", problems) + "\n" + Where());
                        if (violations.Count >= 5) stop.Cancel();
                    }
                    else if (result!.Succeeded)
                    {
                        landed++;
                        if (i % DuckDbEvery == 0) duckDbChecked++;
                    }
                    else
                    {
                        failedLocated++;
                        var kind = ErrorKind(result.Log.Error!);
                        errorKinds[kind] = errorKinds.GetValueOrDefault(kind) + 1;
                    }
                }
                Directory.Delete(folder, recursive: true);
            });
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped after the fifth violation: they are reported below.
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
        output.WriteLine($"{inputs} inputs in {clock.Elapsed.TotalSeconds:F1} s: {landed} landed exactly ({duckDbChecked} read back with DuckDB), {failedLocated} failed with a located error, {violations.Count} violations");
        foreach (var (kind, n) in errorKinds.OrderByDescending(k => k.Value)) output.WriteLine($"  {n,5} x {kind}");
        Assert.True(violations.Count == 0, string.Join("\n\n", violations));
        if (only is null) Assert.True(inputs >= Inputs && landed > inputs / 10 && failedLocated > inputs / 10, "the fuzzer must exercise both outcomes");
    }

    private static string TableNameOf(string stream)
    {
        try { return LakePaths.TableName(stream); }
        catch (ArgumentException) { return stream; } // no table can exist for it; the checks below say so
    }

    /// <summary>What must hold after a run that succeeded: the lake holds exactly the input's records, and its last STATE.</summary>
    private static List<string> CheckLanded(string folder, byte[] input, bool readBackWithDuckDb)
    {
        var problems = new List<string>();
        var (records, lastState, unparsed) = Model(input);
        if (unparsed is not null) problems.Add($"the run succeeded although {unparsed}");
        var manifestPath = Path.Combine(folder, LakePaths.ManifestKey);
        var manifest = File.Exists(manifestPath) ? LakeJson.Deserialize<Manifest>(File.ReadAllBytes(manifestPath), "manifest") : new Manifest();
        var onDisk = Directory.EnumerateFiles(folder, "*.parquet", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/')).Where(k => !k.StartsWith(".dataspoc/", StringComparison.Ordinal)).ToList();
        // The lake names a table after its stream's folder name (control characters, slashes... replaced).
        var tableOf = records.Keys.ToDictionary(stream => stream, TableNameOf, StringComparer.Ordinal);
        foreach (var (stream, ids) in records)
        {
            var table = manifest.Tables.GetValueOrDefault("test/" + tableOf[stream]);
            var files = onDisk.Where(k => k.StartsWith($"raw/test/{tableOf[stream]}/", StringComparison.Ordinal)).ToList();
            var rows = files.Sum(f => ParquetRows(Path.Combine(folder, f)));
            if (ids.Count == 0 && table is null && files.Count == 0) continue;
            if (table is null) { problems.Add($"stream '{stream}': {ids.Count} records, but the manifest has no table"); continue; }
            if (table.RowCount != ids.Count) problems.Add($"stream '{stream}': {ids.Count} records, the manifest counts {table.RowCount}");
            if (rows != ids.Count) problems.Add($"stream '{stream}': {ids.Count} records, the Parquet files hold {rows} rows");
            if (table.Stats.Files != files.Count) problems.Add($"stream '{stream}': the manifest counts {table.Stats.Files} files, {files.Count} are on disk");
            if (readBackWithDuckDb && rows > 0 && ids.Any(id => id is not null))
            {
                List<string?> actual;
                try { actual = Query($"select cast(id as varchar) from read_parquet('{folder}/raw/test/{tableOf[stream]}/*/*.parquet', union_by_name = true)"); }
                catch (DuckDB.NET.Data.DuckDBException e) { problems.Add($"stream '{stream}': DuckDB cannot read the table back: {e.Message}"); continue; }
                var expected = ids.Select(Normal).Order(StringComparer.Ordinal).ToList();
                var got = actual.Select(Normal).Order(StringComparer.Ordinal).ToList();
                if (!expected.SequenceEqual(got)) problems.Add($"stream '{stream}': ids [{string.Join(",", expected)}] but DuckDB reads [{string.Join(",", got)}]");
            }
        }
        foreach (var key in manifest.Tables.Keys)
            if (!tableOf.ContainsValue(key["test/".Length..])) problems.Add($"the manifest has table {key}, which the input has no RECORD for");
        var statePath = Path.Combine(folder, LakePaths.StateKey("fuzz"));
        var state = File.Exists(statePath) ? JsonNode.Parse(File.ReadAllBytes(statePath)) : null;
        if (lastState is not null && !JsonNode.DeepEquals(state, lastState)) problems.Add($"state is {state?.ToJsonString() ?? "absent"}, the input's last STATE is {lastState.ToJsonString()}");
        return problems;
    }

    /// <summary>What must hold after a run that failed: the error names a line, and nothing of the run is visible.</summary>
    private static List<string> CheckFailedLocated(string folder, RunResult result, byte[] input)
    {
        var problems = new List<string>();
        var error = result.Log.Error ?? "";
        // An input with no message at all (cut to nothing, blank lines) has no line to name: the error says nothing came.
        var text = input.AsSpan();
        if (text.StartsWith(new byte[] { 0xEF, 0xBB, 0xBF })) text = text[3..];
        var blank = text.Trim("\r\n\t "u8).IsEmpty;
        if (!LineNumber().IsMatch(error) && !blank) problems.Add($"the error names no line: {error}");
        if (error.Contains("Exception", StringComparison.Ordinal) || error.Contains("   at ", StringComparison.Ordinal)) problems.Add($"the error is an internal exception: {error}");
        if (result.Log.StateCommitted) problems.Add("the failed run says its state was committed");
        if (Directory.EnumerateFiles(folder, "*.parquet", SearchOption.AllDirectories).FirstOrDefault() is { } file) problems.Add($"a Parquet file is visible after the failure: {file}");
        if (File.Exists(Path.Combine(folder, LakePaths.StateKey("fuzz")))) problems.Add("a state was saved by a failed run");
        var manifestPath = Path.Combine(folder, LakePaths.ManifestKey);
        if (File.Exists(manifestPath) && LakeJson.Deserialize<Manifest>(File.ReadAllBytes(manifestPath), "manifest").Tables.Count > 0) problems.Add("the manifest lists a table after a failed first run");
        return problems;
    }

    /// <summary>
    /// The input as an independent parser (System.Text.Json's document model) reads it: per stream the ids of its
    /// RECORDs, the last STATE's value, and the first line it cannot read (a run that succeeded must not have one).
    /// </summary>
    private static (Dictionary<string, List<string?>> Records, JsonNode? LastState, string? Unparsed) Model(byte[] input)
    {
        var records = new Dictionary<string, List<string?>>(StringComparer.Ordinal);
        JsonNode? lastState = null;
        string? unparsed = null;
        var declaresId = new Dictionary<string, bool>(StringComparer.Ordinal);
        var text = input.AsSpan();
        if (text.StartsWith(new byte[] { 0xEF, 0xBB, 0xBF })) text = text[3..];
        var number = 0;
        foreach (var line in text.ToArray().Split((byte)'\n'))
        {
            number++;
            var trimmed = line.AsSpan().Trim("\r\t "u8);
            if (trimmed.IsEmpty) continue;
            try
            {
                using var document = JsonDocument.Parse(trimmed.ToArray(), new JsonDocumentOptions { MaxDepth = 100_000 });
                var root = document.RootElement;
                var type = root.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                if (type == "RECORD" && root.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.String && root.TryGetProperty("record", out var r))
                {
                    var stream = s.GetString()!;
                    if (!records.TryGetValue(stream, out var ids)) records[stream] = ids = [];
                    // A property the SCHEMA does not declare is dropped (and counted), so its id lands as no value.
                    var declared = declaresId.GetValueOrDefault(stream, true);
                    ids.Add(declared && r.ValueKind == JsonValueKind.Object && r.TryGetProperty("id", out var id) && id.ValueKind != JsonValueKind.Null ? id.ToString() : null);
                }
                else if (type == "SCHEMA" && root.TryGetProperty("stream", out var ss) && ss.ValueKind == JsonValueKind.String)
                {
                    records.TryAdd(ss.GetString()!, []);
                    declaresId[ss.GetString()!] = root.TryGetProperty("schema", out var schema) && schema.ValueKind == JsonValueKind.Object
                        && schema.TryGetProperty("properties", out var properties) && properties.ValueKind == JsonValueKind.Object
                        && properties.TryGetProperty("id", out _);
                }
                else if (type == "STATE" && root.TryGetProperty("value", out var v))
                    lastState = JsonNode.Parse(v.GetRawText());
            }
            catch (JsonException e)
            {
                unparsed ??= $"line {number} is not JSON to System.Text.Json ({e.Message})";
            }
        }
        return (records, lastState, unparsed);
    }

    // A number's text without its scale: an integer column stores the input's `0.0` as 0, which DuckDB prints as "0".
    private static string? Normal(string? id) =>
        id is null ? null : decimal.TryParse(id, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d) ? d.ToString("G29", System.Globalization.CultureInfo.InvariantCulture) : id;

    private static long ParquetRows(string path)
    {
        using var reader = new ParquetSharp.ParquetFileReader(path);
        return reader.FileMetaData.NumRows;
    }

    private static List<string?> Query(string sql)
    {
        using var conn = new DuckDB.NET.Data.DuckDBConnection("DataSource=:memory:");
        conn.Open();
        using var cmd = conn.CreateCommand();
        cmd.CommandText = sql;
        using var reader = cmd.ExecuteReader();
        var values = new List<string?>();
        while (reader.Read()) values.Add(reader.IsDBNull(0) ? null : reader.GetString(0));
        return values;
    }

    /// <summary>An error's shape without its particulars (numbers and quoted names), to summarise what the fuzzer hit.</summary>
    private static string ErrorKind(string error) => Quoted().Replace(Digits().Replace(error.Length > 90 ? error[..90] : error, "N"), "'…'");

    private static string Shorten(string text) => text.Length <= 3000 ? text : text[..3000] + $"… ({text.Length} chars)";

    [GeneratedRegex(@"\bline \d+")]
    private static partial Regex LineNumber();

    [GeneratedRegex(@"\d+")]
    private static partial Regex Digits();

    [GeneratedRegex(@"'[^']*'")]
    private static partial Regex Quoted();
}

internal static class ByteSplitting
{
    /// <summary>Splits bytes at a separator (no empty tail for a trailing separator is added by callers that trim).</summary>
    public static byte[][] Split(this byte[] bytes, byte separator)
    {
        var parts = new List<byte[]>();
        var start = 0;
        for (var i = 0; i <= bytes.Length; i++)
        {
            if (i < bytes.Length && bytes[i] != separator) continue;
            parts.Add(bytes[start..i]);
            start = i + 1;
        }
        return parts.ToArray();
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Sources;
using DataSpoc.Pipe.Sources.BuiltIn;
using Npgsql;

// `<raw|sink|json> <port> <table> [runs=5]` against postgres@127.0.0.1 (trust auth), database postgres:
//   raw  - `COPY <table> TO STDOUT (FORMAT binary)` read to the end and dropped (Npgsql's raw binary copy, 64 KiB reads)
//   libpq - the same COPY read through libpq's PQgetCopyData (blocking), each row copied into a 64 KiB buffer as the tap's pump does
//   rawsync - the same with blocking reads, and RAW_OPTIONS appended to the connection string (e.g. "Read Buffer Size=1048576")
//   sink - the postgres tap's full-table sync into a RecordSink that counts rows and drops the values
//   json - the same sync printed as Singer JSON (SingerJsonSink) to a null stream, as `dataspoc-pipe tap postgres` does
// `decode <copy.bin> [seconds]`: the tap's decode of a captured binary COPY into a column batch, no server (DecodeLoop).
// After one warm-up run, prints each run's wall and CPU time, then the medians.
if (args is ["decode", var copyFile, ..])
    return DataSpoc.Pipe.PostgresTapBench.DecodeLoop.Run(copyFile, args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 5);
if (args is not [("raw" or "rawsync" or "libpq" or "sink" or "json") and var mode, var portText, var table, ..])
{
    Console.Error.WriteLine("usage: DataSpoc.Pipe.PostgresTapBench raw|rawsync|libpq|sink|json <port> <table> [runs] | decode <copy.bin> [seconds]");
    return 2;
}
var port = int.Parse(portText, CultureInfo.InvariantCulture);
var runs = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 5;
var config = new JsonObject
{
    ["host"] = "127.0.0.1", ["port"] = port, ["user"] = "postgres", ["dbname"] = "postgres", ["sslmode"] = "disable",
    ["filter_tables"] = new JsonArray(table),
};
// Typed and internal types are only touched in TypedSinkRun, so `json` also runs against an older DataSpoc.Pipe.dll
// copied over this one (postgres-tap.sh's OLD_PIPE_DLL: the tap before typed rows).
IBuiltInTap tap = new PostgresTap();

async Task<long> RunAsync()
{
    switch (mode)
    {
        case "raw":
            await using (var connection = new NpgsqlConnection($"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;SSL Mode=Disable"))
            {
                await connection.OpenAsync();
                await using var copy = await connection.BeginRawBinaryCopyAsync($"COPY {table} TO STDOUT (FORMAT binary)");
                var buffer = new byte[64 * 1024];
                long bytes = 0;
                int read;
                while ((read = await copy.ReadAsync(buffer, 0, buffer.Length)) > 0) bytes += read;
                return bytes;
            }
        case "rawsync":
            // As raw, with blocking reads and the connection options of RAW_OPTIONS (e.g. "Read Buffer Size=1048576").
            await using (var connection = new NpgsqlConnection($"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;SSL Mode=Disable;{Environment.GetEnvironmentVariable("RAW_OPTIONS")}"))
            {
                connection.Open();
                using var copy = connection.BeginRawBinaryCopy($"COPY {table} TO STDOUT (FORMAT binary)");
                var buffer = new byte[64 * 1024];
                long bytes = 0;
                int read;
                while ((read = copy.Read(buffer, 0, buffer.Length)) > 0) bytes += read;
                return bytes;
            }
        case "libpq":
            return LibpqRaw.Read(port, table);
        case "sink":
            return await TypedSinkRun.RunAsync(tap, config);
        default:
            await tap.SyncAsync(config, null, null, Stream.Null, CancellationToken.None);
            return -1;
    }
}

Console.WriteLine($"{mode} {table}: warm-up {await RunAsync():N0} ({(mode is "raw" or "rawsync" or "libpq" ? "bytes" : "records")})");
var walls = new List<double>();
var cpus = new List<double>();
for (var i = 0; i < runs; i++)
{
    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
    var clock = Stopwatch.StartNew();
    await RunAsync();
    var wall = clock.Elapsed.TotalSeconds;
    var used = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
    walls.Add(wall);
    cpus.Add(used);
    Console.WriteLine($"{mode} run {i + 1}: wall {wall:F3} s, cpu {used:F3} s, load {File.ReadAllText("/proc/loadavg")[..14]}");
}
Console.WriteLine($"{mode} median: wall {walls.Order().ElementAt(runs / 2):F3} s, cpu {cpus.Order().ElementAt(runs / 2):F3} s");
return 0;

internal static class TypedSinkRun
{
    public static async Task<long> RunAsync(IBuiltInTap tap, JsonObject config)
    {
        var sink = new CountingSink();
        await ((ITypedBuiltInTap)tap).SyncAsync(config, null, null, sink, CancellationToken.None);
        return sink.Records;
    }
}

/// <summary>Counts rows and drops every value: the tap's own cost, without any consumer.</summary>
internal sealed class CountingSink : RecordSink
{
    private readonly Rows _rows = new();

    public override long Records => _rows.Count;

    public override RowWriter WriteSchema(string stream, JsonObject schema, IReadOnlyList<string> keyProperties, IReadOnlyList<string>? bookmarkProperties = null) => _rows;

    public override void WriteState(JsonNode state) { }
    public override void WriteActivateVersion(string stream, long version) { }
    public override ValueTask FlushIfFullAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    public override ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    private sealed class Rows : RowsWithoutValues
    {
        public long Count;
        public override void EndRow() => Count++;
    }
}

internal static unsafe class LibpqRaw
{
    public static long Read(int port, string table)
    {
        var pq = Libpq.Functions ?? throw new InvalidOperationException("libpq cannot be loaded");
        using var connection = LibpqConnection.Open(pq, [new("host", "127.0.0.1"), new("port", port.ToString(CultureInfo.InvariantCulture)),
            new("user", "postgres"), new("dbname", "postgres"), new("sslmode", "disable")], "bench");
        connection.BeginCopyOut($"COPY {table} TO STDOUT (FORMAT binary)");
        var buffer = new byte[64 * 1024];
        var filled = 0;
        long bytes = 0;
        int length;
        while ((length = connection.ReadCopyData(out var data)) >= 0)
        {
            if (buffer.Length - filled < length) filled = 0;
            new ReadOnlySpan<byte>(data, length).CopyTo(buffer.AsSpan(filled));
            filled += length;
            bytes += length;
            connection.Free(data);
        }
        connection.EndCopy();
        return bytes;
    }
}

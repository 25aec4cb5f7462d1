using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.Json;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Sources.BuiltIn;

namespace DataSpoc.Pipe.PostgresTapBench;

/// <summary>
/// `decode <copy.bin> [seconds=5]`: the tap's per-value decode of a full-table COPY with no server and no socket. The
/// file is a `COPY events TO STDOUT (FORMAT binary)` of bench/postgres-tap.sh's events table; its rows go through
/// <see cref="PostgresColumn.Write{TValues,TTarget}"/> into the leaf buffers of a real column batch (cleared every
/// 65,536 rows, as a stream's batches are handed on), again and again. Prints CPU nanoseconds a row: the decode
/// thread's own cost, steady (after a warm-up pass), which the loaded shared machine cannot show end to end.
/// </summary>
internal static class DecodeLoop
{
    public static int Run(string file, double seconds)
    {
        var bytes = File.ReadAllBytes(file);
        List<PostgresColumn> columns =
        [
            new("id", "bigint", "int8", -1, null, true),
            new("user_id", "bigint", "int8", -1, null, false),
            new("name", "text", "text", -1, null, false),
            new("email", "text", "text", -1, null, false),
            new("amount", "numeric(12,2)", "numeric", (12 << 16 | 2) + 4, null, false),
            new("active", "boolean", "bool", -1, null, false),
            new("country", "text", "text", -1, null, false),
            new("created_at", "timestamp with time zone", "timestamptz", -1, null, false),
        ];
        var table = new PostgresTable("public", "events", false, columns, ["id"]);
        using var schemaJson = JsonDocument.Parse(table.JsonSchema().ToJsonString());
        var batch = new ColumnBatch(ColumnSchema.FromJsonSchema(schemaJson.RootElement));
        var rows = Pass(bytes, columns, batch);
        var clock = Stopwatch.StartNew();
        var perRow = new List<double>();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            Pass(bytes, columns, batch);
            perRow.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds * 1e6 / rows);
        }
        perRow.Sort();
        // The fastest pass is the one the other engineers' builds disturbed least; the median shows the spread.
        Console.WriteLine($"decode: {perRow.Count} passes of {rows:N0} rows, CPU a row: min {perRow[0]:F1} ns, median {perRow[perRow.Count / 2]:F1} ns, " +
                          $"load {File.ReadAllText("/proc/loadavg")[..14]}");
        return 0;
    }

    private static long Pass(byte[] bytes, List<PostgresColumn> columns, ColumnBatch batch)
    {
        // Header: 11-byte signature, flags, extension length, extension.
        var at = 11 + 8 + BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(15));
        long rows = 0;
        var buffers = batch.Columns;
        while (true)
        {
            var fields = BinaryPrimitives.ReadInt16BigEndian(bytes.AsSpan(at));
            if (fields == -1) break;
            var end = at + 2;
            for (var f = 0; f < fields; f++) end += 4 + Math.Max(0, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(end)));
            var values = new CopyRowValues(bytes.AsSpan(at + 2, end - at - 2));
            for (var i = 0; i < columns.Count; i++)
            {
                var target = new LeafBufferTarget(buffers[i]);
                if (!columns[i].Write(ref values, ref target)) throw new InvalidOperationException($"declined a value of {columns[i].Name}");
            }
            batch.Rows++;
            at = end;
            if (++rows % 65_536 == 0) batch.Clear();
        }
        batch.Clear();
        return rows;
    }
}

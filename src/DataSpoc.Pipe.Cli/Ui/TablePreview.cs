using System.Text.Json.Nodes;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cli.Ui;

/// <summary>
/// The first rows of a lake table, read from its current data files by the built-in <c>parquet</c> tap (the engine's own
/// Parquet reader) a few files at a time, and stopped as soon as enough records came out, so a large table costs its
/// first files' first row groups, not a full scan.
/// </summary>
internal static class TablePreview
{
    /// <summary>Files handed to the tap at once: it resolves each file it is given before reading the first.</summary>
    private const int FilesAtOnce = 8;

    public static async Task<List<JsonObject>> FirstRowsAsync(ObjectStoreFactory stores, IReadOnlyList<string> files, IReadOnlyDictionary<string, string>? storageOptions,
        int limit, CancellationToken cancellationToken)
    {
        if (!BuiltInTaps.TryGet("parquet", stores, out var tap)) throw new InvalidOperationException("the built-in parquet tap is missing");
        var rows = new List<JsonObject>();
        foreach (var some in files.Chunk(FilesAtOnce))
        {
            if (rows.Count >= limit) break;
            var config = new JsonObject { ["files"] = new JsonArray([.. some.Select(f => (JsonNode)JsonValue.Create(f))]) };
            if (storageOptions is { Count: > 0 })
                config["storage_options"] = new JsonObject(storageOptions.Select(o => KeyValuePair.Create(o.Key, (JsonNode?)o.Value)));
            using var enough = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var sink = new RecordSink(limit - rows.Count, enough);
            try
            {
                await tap.SyncAsync(config, null, null, sink, enough.Token).ConfigureAwait(false);
                sink.TakeLastLine();
            }
            catch (OperationCanceledException) when (enough.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                // Stopped on purpose: the rows we want are in.
            }
            rows.AddRange(sink.Rows);
        }
        return rows;
    }

    /// <summary>Takes the tap's Singer lines and keeps the records, cancelling the tap once it has <c>limit</c>.</summary>
    private sealed class RecordSink(int limit, CancellationTokenSource enough) : Infrastructure.WriteOnlyStream
    {
        private readonly MemoryStream _line = new();
        public List<JsonObject> Rows { get; } = [];

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            while (!buffer.IsEmpty && Rows.Count < limit)
            {
                var newline = buffer.IndexOf((byte)'\n');
                if (newline < 0) { _line.Write(buffer); return; }
                _line.Write(buffer[..newline]);
                buffer = buffer[(newline + 1)..];
                Take();
            }
            if (Rows.Count >= limit) enough.Cancel();
        }

        public void TakeLastLine() { if (_line.Length > 0 && Rows.Count < limit) Take(); }

        private void Take()
        {
            var message = JsonNode.Parse(_line.ToArray()) as JsonObject;
            _line.SetLength(0);
            if (message?["type"]?.GetValue<string>() == "RECORD" && message["record"] is JsonObject record) Rows.Add((JsonObject)record.DeepClone());
        }

        public override void Flush() { }
    }
}

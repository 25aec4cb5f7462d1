using System.Text.Json;

namespace DataSpoc.Pipe.Parquet;

internal sealed partial class RecordShredder
{
    /// <summary>
    /// Shreds one JSON value (the reader on its first token) into a top-level column: its leaf, or every leaf of a
    /// nested column. The typed sink's route for a value it does not store itself (see <see cref="ColumnType.TryAppend(LeafBuffer, long, short)"/>):
    /// the value is stored, or rejected with the message, exactly as in a RECORD line.
    /// </summary>
    public void ShredValue(ColumnBatch batch, SchemaNode topLevelColumn, ref Utf8JsonReader reader) =>
        WriteNode(batch, topLevelColumn, ref reader, 0, 0);
}

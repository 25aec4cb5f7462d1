using System.Text;
using ParquetSharp;
using ParquetSharp.Schema;
using PipeCompression = DataSpoc.Pipe.Config.Compression;

namespace DataSpoc.Pipe.Parquet;

/// <summary>
/// Concatenates Parquet files of one schema into one file, column by column at the level of Parquet's own values
/// (definition and repetition levels plus physical values). The output keeps the inputs' schema node for node, so
/// every logical type, nested level and field id is exactly what the files had; statistics are recomputed by the
/// writer over the merged values. Used by compaction: going back through JSON and <see cref="TableWriter"/> would
/// re-derive a schema the files already state and could not keep ids of columns a later SCHEMA dropped.
/// </summary>
internal static class ParquetConcatenation
{
    private const int BatchSize = 64 * 1024;
    /// <summary>Row groups of the output are cut after this many rows (small inputs become few, larger row groups).</summary>
    public const long RowGroupRows = 1024 * 1024;

    /// <summary>
    /// A signature of a file's schema (names, repetitions, physical and logical types, field ids): files with equal
    /// signatures can be concatenated; a schema change between runs makes a new signature.
    /// </summary>
    public static string SchemaSignature(string path)
    {
        using var reader = new ParquetFileReader(path);
        using var meta = reader.FileMetaData;
        var text = new StringBuilder();
        using var root = meta.Schema.GroupNode;
        Describe(root, text);
        return text.ToString();
    }

    private static void Describe(Node node, StringBuilder text)
    {
        using var logical = node.LogicalType;
        text.Append(node.Name).Append(':').Append(node.Repetition).Append(':').Append(node.FieldId).Append(':').Append(logical.ToString());
        switch (node)
        {
            case PrimitiveNode p:
                text.Append(':').Append(p.PhysicalType).Append(':').Append(p.TypeLength).Append(';');
                break;
            case GroupNode g:
                text.Append('{');
                foreach (var child in g.Fields)
                {
                    Describe(child, text);
                    child.Dispose();
                }
                text.Append('}');
                break;
        }
    }

    /// <summary>
    /// Writes the rows of <paramref name="inputs"/> (equal <see cref="SchemaSignature"/>s), in order, to <paramref name="output"/>,
    /// with the first input's key-value metadata changed by <paramref name="keyValues"/> (an entry set; with a null value, removed).
    /// </summary>
    public static long Concatenate(IReadOnlyList<string> inputs, string output, PipeCompression compression, IReadOnlyDictionary<string, string?>? keyValues = null)
    {
        if (inputs.Count == 0) throw new ArgumentException("nothing to concatenate", nameof(inputs));
        var readers = inputs.Select(p => new ParquetFileReader(p)).ToList();
        try
        {
            var firstMeta = readers[0].FileMetaData;
            using var root = firstMeta.Schema.GroupNode;
            using var schema = (GroupNode)root.DeepClone();
            using var builder = new WriterPropertiesBuilder();
            ParquetBatchFile.UseCompression(builder, compression);
            builder.MaxRowGroupLength(int.MaxValue);
            builder.MemoryPool(MemoryPool.SystemMemoryPool());
            builder.CreatedBy("dataspoc-pipe " + ToolVersion.Current);
            using var properties = builder.Build();
            var outputKeyValues = firstMeta.KeyValueMetadata.ToDictionary(StringComparer.Ordinal);
            foreach (var (key, value) in keyValues ?? new Dictionary<string, string?>())
                if (value is null) outputKeyValues.Remove(key);
                else outputKeyValues[key] = value;
            using var writer = new ParquetFileWriter(output, schema, properties, outputKeyValues.Count > 0 ? outputKeyValues : null);

            // Output row groups: consecutive input row groups, cut once they reach RowGroupRows.
            var groups = new List<List<(ParquetFileReader Reader, int RowGroup)>>();
            var current = new List<(ParquetFileReader, int)>();
            long currentRows = 0, rows = 0;
            foreach (var reader in readers)
            {
                // FileMetaData is the reader's own object (disposed with it), not a copy to dispose here.
                for (var g = 0; g < reader.FileMetaData.NumRowGroups; g++)
                {
                    using var rowGroup = reader.RowGroup(g);
                    var groupRows = rowGroup.MetaData.NumRows;
                    if (currentRows > 0 && currentRows + groupRows > RowGroupRows)
                    {
                        groups.Add(current);
                        current = [];
                        currentRows = 0;
                    }
                    current.Add((reader, g));
                    currentRows += groupRows;
                    rows += groupRows;
                }
            }
            if (current.Count > 0) groups.Add(current);

            var columns = firstMeta.NumColumns;
            var defs = new short[BatchSize];
            var reps = new short[BatchSize];
            foreach (var group in groups)
            {
                using var rowGroupWriter = writer.AppendRowGroup();
                for (var c = 0; c < columns; c++)
                {
                    using var columnWriter = rowGroupWriter.NextColumn();
                    foreach (var (reader, g) in group)
                    {
                        using var rowGroup = reader.RowGroup(g);
                        using var columnReader = rowGroup.Column(c);
                        Copy(columnReader, columnWriter, defs, reps);
                    }
                }
            }
            writer.Close();
            return rows;
        }
        finally
        {
            foreach (var reader in readers) reader.Dispose();
        }
    }

    private static void Copy(ColumnReader reader, ColumnWriter writer, short[] defs, short[] reps)
    {
        var descriptor = reader.ColumnDescriptor;
        var hasDef = descriptor.MaxDefinitionLevel > 0;
        var hasRep = descriptor.MaxRepetitionLevel > 0;
        switch (reader)
        {
            case ColumnReader<bool> r: Copy(r, (ColumnWriter<bool>)writer, defs, reps, hasDef, hasRep); break;
            case ColumnReader<int> r: Copy(r, (ColumnWriter<int>)writer, defs, reps, hasDef, hasRep); break;
            case ColumnReader<long> r: Copy(r, (ColumnWriter<long>)writer, defs, reps, hasDef, hasRep); break;
            case ColumnReader<Int96> r: Copy(r, (ColumnWriter<Int96>)writer, defs, reps, hasDef, hasRep); break;
            case ColumnReader<float> r: Copy(r, (ColumnWriter<float>)writer, defs, reps, hasDef, hasRep); break;
            case ColumnReader<double> r: Copy(r, (ColumnWriter<double>)writer, defs, reps, hasDef, hasRep); break;
            case ColumnReader<ByteArray> r: Copy(r, (ColumnWriter<ByteArray>)writer, defs, reps, hasDef, hasRep); break;
            case ColumnReader<FixedLenByteArray> r: Copy(r, (ColumnWriter<FixedLenByteArray>)writer, defs, reps, hasDef, hasRep); break;
            default: throw new NotSupportedException($"Parquet column {descriptor.Path.ToDotString()} has a physical type compaction cannot copy");
        }
    }

    private static void Copy<T>(ColumnReader<T> reader, ColumnWriter<T> writer, short[] defs, short[] reps, bool hasDef, bool hasRep)
        where T : unmanaged
    {
        var values = new T[BatchSize];
        while (reader.HasNext)
        {
            // Byte-array values point into the reader's page buffer, valid until the next ReadBatch: written before it.
            var levels = (int)reader.ReadBatch(BatchSize, defs, reps, values, out var valuesRead);
            if (levels == 0) break;
            writer.WriteBatch(levels, hasDef ? defs.AsSpan(0, levels) : default, hasRep ? reps.AsSpan(0, levels) : default,
                values.AsSpan(0, (int)valuesRead));
        }
    }
}

using System.Globalization;
using ParquetSharp;
using ParquetSharp.Schema;

namespace DataSpoc.Pipe.Parquet;

/// <summary>Which of a <see cref="LeafBuffer"/>'s arrays holds a column's values.</summary>
internal enum ValueStorage { Longs, Doubles, Ints, Bools, Bytes }

/// <summary>
/// One logical column type and what it is everywhere the lake names or stores it: its value storage, the manifest's
/// Arrow-style name, Iceberg's name, its Parquet node and writer call, and how its values are encoded. One instance
/// per <see cref="LeafKind"/>; the two shredders decode JSON values into the storage named here.
/// </summary>
internal abstract partial class ColumnType
{
    private static readonly ColumnType[] ByKind = BuildTable();

    public static ColumnType Of(LeafKind kind) => ByKind[(int)kind];

    public abstract LeafKind Kind { get; }
    public abstract ValueStorage Storage { get; }
    /// <summary>The manifest's type name (Arrow's spelling).</summary>
    public abstract string ArrowName(LeafNode leaf);
    /// <summary>The Iceberg primitive type.</summary>
    public abstract string IcebergName(LeafNode leaf);
    protected abstract LogicalType Logical(LeafNode leaf);
    protected virtual PhysicalType Physical => Storage switch
    {
        ValueStorage.Longs => PhysicalType.Int64,
        ValueStorage.Doubles => PhysicalType.Double,
        ValueStorage.Ints => PhysicalType.Int32,
        ValueStorage.Bools => PhysicalType.Boolean,
        _ => PhysicalType.ByteArray,
    };
    protected virtual int FixedLength => -1;

    /// <summary>Text values (strings, JSON): distinct-heavy long ones are free text, written without min/max.</summary>
    public virtual bool IsText => false;

    /// <summary>Values DELTA_BINARY_PACKED stores small when they are mostly distinct (ids, times).</summary>
    public bool DeltaEncodes => Storage is ValueStorage.Longs or ValueStorage.Ints;

    /// <summary>The column's Parquet leaf (always optional: a value may be missing).</summary>
    public Node ParquetNode(LeafNode leaf)
    {
        return new PrimitiveNode(leaf.Name, Repetition.Optional, Logical(leaf), Physical, FixedLength, leaf.FieldId);
    }

    /// <summary>Writes the levels and values of <paramref name="range"/> (a run of whole rows) to the column's writer.</summary>
    public virtual void Write(ColumnWriter writer, LeafBuffer c, LeafRange range, ref ByteArray[]? byteArrays)
    {
        var def = c.Def.AsSpan(range.Level, range.Levels);
        var rep = c.Rep.Length > 0 ? c.Rep.AsSpan(range.Level, range.Levels) : default;
        switch (Storage)
        {
            case ValueStorage.Longs:
                ((ColumnWriter<long>)writer).WriteBatch(range.Levels, def, rep, c.Longs.AsSpan(range.Value, range.Values));
                break;
            case ValueStorage.Doubles:
                ((ColumnWriter<double>)writer).WriteBatch(range.Levels, def, rep, c.Doubles.AsSpan(range.Value, range.Values));
                break;
            case ValueStorage.Ints:
                ((ColumnWriter<int>)writer).WriteBatch(range.Levels, def, rep, c.Ints.AsSpan(range.Value, range.Values));
                break;
            case ValueStorage.Bools:
                ((ColumnWriter<bool>)writer).WriteBatch(range.Levels, def, rep, c.Bools.AsSpan(range.Value, range.Values));
                break;
            default:
                // Strings as pointers into the batch's byte buffer: no copies.
                unsafe
                {
                    fixed (byte* bytes = c.Bytes)
                    {
                        if (byteArrays is null || byteArrays.Length < range.Values) byteArrays = new ByteArray[Math.Max(range.Values, (byteArrays?.Length ?? 512) * 2)];
                        var offsets = c.Offsets;
                        for (var i = 0; i < range.Values; i++)
                        {
                            var v = range.Value + i;
                            byteArrays[i] = new ByteArray((IntPtr)(bytes + offsets[v]), offsets[v + 1] - offsets[v]);
                        }
                        ((ColumnWriter<ByteArray>)writer).WriteBatch(range.Levels, def, rep, byteArrays.AsSpan(0, range.Values));
                    }
                }
                break;
        }
    }

    private static ColumnType[] BuildTable()
    {
        ColumnType[] all = [new Int64Type(), new DoubleType(), new DecimalType(), new BooleanType(), new StringType(), new JsonType(), new TimestampType(), new DateType(), new TimeType()];
        var table = new ColumnType[all.Length];
        foreach (var t in all) table[(int)t.Kind] = t;
        return table;
    }

    private sealed partial class Int64Type : ColumnType
    {
        public override LeafKind Kind => LeafKind.Int64;
        public override ValueStorage Storage => ValueStorage.Longs;
        public override string ArrowName(LeafNode leaf) => "int64";
        public override string IcebergName(LeafNode leaf) => "long";
        protected override LogicalType Logical(LeafNode leaf) => LogicalType.None();
    }

    private sealed partial class DoubleType : ColumnType
    {
        public override LeafKind Kind => LeafKind.Double;
        public override ValueStorage Storage => ValueStorage.Doubles;
        public override string ArrowName(LeafNode leaf) => "double";
        public override string IcebergName(LeafNode leaf) => "double";
        protected override LogicalType Logical(LeafNode leaf) => LogicalType.None();
    }

    /// <summary>DECIMAL(38, scale) as FIXED_LEN_BYTE_ARRAY(16), big-endian two's complement (see <see cref="DecimalWriter"/>).</summary>
    private sealed partial class DecimalType : ColumnType
    {
        public override LeafKind Kind => LeafKind.Decimal;
        public override ValueStorage Storage => ValueStorage.Bytes;
        public override string ArrowName(LeafNode leaf) => $"decimal128({LeafNode.DecimalPrecision}, {leaf.Scale})";
        public override string IcebergName(LeafNode leaf) => string.Create(CultureInfo.InvariantCulture, $"decimal({LeafNode.DecimalPrecision}, {leaf.Scale})");
        protected override LogicalType Logical(LeafNode leaf) => LogicalType.Decimal(LeafNode.DecimalPrecision, leaf.Scale);
        protected override PhysicalType Physical => PhysicalType.FixedLenByteArray;
        protected override int FixedLength => 16;

        public override void Write(ColumnWriter writer, LeafBuffer c, LeafRange range, ref ByteArray[]? byteArrays)
        {
            var def = c.Def.AsSpan(range.Level, range.Levels);
            var rep = c.Rep.Length > 0 ? c.Rep.AsSpan(range.Level, range.Levels) : default;
            unsafe
            {
                fixed (byte* bytes = c.Bytes)
                {
                    var values = new FixedLenByteArray[range.Values];
                    for (var i = 0; i < range.Values; i++) values[i] = new FixedLenByteArray((IntPtr)(bytes + c.Offsets[range.Value + i]));
                    ((ColumnWriter<FixedLenByteArray>)writer).WriteBatch(range.Levels, def, rep, values);
                }
            }
        }
    }

    private sealed partial class BooleanType : ColumnType
    {
        public override LeafKind Kind => LeafKind.Boolean;
        public override ValueStorage Storage => ValueStorage.Bools;
        public override string ArrowName(LeafNode leaf) => "bool";
        public override string IcebergName(LeafNode leaf) => "boolean";
        protected override LogicalType Logical(LeafNode leaf) => LogicalType.None();
    }

    private sealed partial class StringType : ColumnType
    {
        public override LeafKind Kind => LeafKind.String;
        public override ValueStorage Storage => ValueStorage.Bytes;
        public override bool IsText => true;
        public override string ArrowName(LeafNode leaf) => "string";
        public override string IcebergName(LeafNode leaf) => "string";
        protected override LogicalType Logical(LeafNode leaf) => LogicalType.String();
    }

    /// <summary>Any JSON value as its compact text (Parquet's JSON logical type; Iceberg has none, so a string).</summary>
    private sealed partial class JsonType : ColumnType
    {
        public override LeafKind Kind => LeafKind.Json;
        public override ValueStorage Storage => ValueStorage.Bytes;
        public override bool IsText => true;
        public override string ArrowName(LeafNode leaf) => "json";
        public override string IcebergName(LeafNode leaf) => "string";
        protected override LogicalType Logical(LeafNode leaf) => LogicalType.Json();
    }

    /// <summary>Microseconds since the epoch, UTC.</summary>
    private sealed partial class TimestampType : ColumnType
    {
        public override LeafKind Kind => LeafKind.Timestamp;
        public override ValueStorage Storage => ValueStorage.Longs;
        public override string ArrowName(LeafNode leaf) => "timestamp[us, tz=UTC]";
        public override string IcebergName(LeafNode leaf) => "timestamptz";
        protected override LogicalType Logical(LeafNode leaf) => LogicalType.Timestamp(true, TimeUnit.Micros);
    }

    /// <summary>Days since the epoch.</summary>
    private sealed partial class DateType : ColumnType
    {
        public override LeafKind Kind => LeafKind.Date;
        public override ValueStorage Storage => ValueStorage.Ints;
        public override string ArrowName(LeafNode leaf) => "date32";
        public override string IcebergName(LeafNode leaf) => "date";
        protected override LogicalType Logical(LeafNode leaf) => LogicalType.Date();
    }

    /// <summary>Microseconds since midnight, no zone.</summary>
    private sealed partial class TimeType : ColumnType
    {
        public override LeafKind Kind => LeafKind.Time;
        public override ValueStorage Storage => ValueStorage.Longs;
        public override string ArrowName(LeafNode leaf) => "time64[us]";
        public override string IcebergName(LeafNode leaf) => "time";
        protected override LogicalType Logical(LeafNode leaf) => LogicalType.Time(false, TimeUnit.Micros);
    }
}

/// <summary>Levels and values of a column that make a run of whole rows of its batch (all of them: <see cref="Whole"/>).</summary>
internal readonly record struct LeafRange(int Level, int Levels, int Value, int Values)
{
    public static LeafRange Whole(LeafBuffer c) => new(0, c.Levels, 0, c.Values);
}

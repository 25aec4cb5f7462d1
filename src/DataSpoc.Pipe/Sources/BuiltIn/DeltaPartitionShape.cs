using System.Globalization;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Tables;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// A partition column of a Delta table, which the file being read does not hold: the same value, from the table's log,
/// in every row of the file, typed as the table's schema says (protocol "Partition Value Serialization"); also a
/// Hive-style <c>key=value</c> folder's column, typed from its values (<see cref="HivePartitions"/>). The value is
/// read once, when the file's shapes are built, so a value that is not of its column's type fails before the file's
/// first row, naming the file, the column and the value.
/// </summary>
internal sealed class DeltaPartitionShape : ParquetShape
{
    private readonly JsonObject _schema;
    private readonly Action<RowWriter, int> _write;

    private DeltaPartitionShape(DeltaPartitionValue column, string location) : base(column.Name, def: 0, optional: true)
    {
        var value = column.Value;
        var type = column.Type;
        var parsed = true;
        switch (type)
        {
            case "string":
                _schema = OfType("string");
                _write = (row, p) => row.String(p, value);
                break;
            case "long" or "integer" or "short" or "byte":
                parsed = long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer);
                _schema = OfType("integer");
                _write = (row, p) => row.Long(p, integer);
                break;
            case "float" or "double":
                parsed = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var real);
                _schema = OfType("number");
                _write = (row, p) => row.Double(p, real);
                break;
            case "boolean":
                parsed = bool.TryParse(value, out var truth);
                _schema = OfType("boolean");
                _write = (row, p) => row.Bool(p, truth);
                break;
            case "date":
                parsed = DateOnly.TryParseExact(value, ["yyyy-MM-dd", "yyyy-M-d"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var date);
                _schema = Formatted("date");
                _write = (row, p) => row.Date(p, date);
                break;
            case "timestamp" or "timestamp_ntz":
                // "1970-01-01 00:00:00[.123456]" (in the writer's zone, which the log does not say: read as UTC) or ISO 8601 in UTC ("1970-01-01T00:00:00.123456Z").
                parsed = DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var instant);
                _schema = Formatted("date-time");
                _write = (row, p) => row.Timestamp(p, instant.UtcDateTime);
                break;
            case "binary":
                // Each char of the string is one byte ("\u0001\u0002").
                parsed = value is null || value.All(c => c <= 0xFF);
                _schema = Bytes();
                _write = (row, p) => row.Base64(p, value!.Select(c => (byte)c).ToArray());
                break;
            case var _ when DecimalScale(type) is { } scale:
                // decimal's 28 digits when they hold it; else the number's text as written (Delta decimals reach 38 digits).
                var exact = decimal.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number);
                parsed = exact || IsJsonNumber(value);
                _schema = Decimal(scale);
                _write = exact ? (row, p) => row.Decimal(p, number) : (row, p) => row.Json(p, value.AsSpan());
                break;
            default:
                throw new TapException($"{location}: Delta partition column '{column.Name}' is of type '{type}', which this reader does not read as a partition value");
        }
        if (value is null) _write = (row, p) => row.Null(p);
        else if (!parsed)
            throw new TapException($"{location}: Delta partition column '{column.Name}' ({type}) has the value '{value}' in the table's log, which is not a {type}");
    }

    /// <summary>
    /// <paramref name="shapes"/> (the file's columns) with the file's Delta partition columns it lacks, in the table's
    /// column order; columns the table's schema does not list follow in the file's order, then partition columns it does
    /// not list (<see cref="HivePartitions"/>' folders give no order) in their own order. A partition column the file
    /// holds itself (our own Delta tables keep a date partition column in their files) is read from the file.
    /// </summary>
    public static List<ParquetShape> WithPartitionColumns(List<ParquetShape> shapes, SourceFile file)
    {
        if (file.DeltaPartition is not { } partition) return shapes;
        var inFile = shapes.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var missing = partition.Values.Where(v => !inFile.Contains(v.Name)).ToDictionary(v => v.Name, StringComparer.Ordinal);
        if (missing.Count == 0) return shapes;
        var placed = new HashSet<ParquetShape>();
        var ordered = new List<ParquetShape>();
        foreach (var name in partition.SchemaOrder)
        {
            if (missing.Remove(name, out var value)) ordered.Add(new DeltaPartitionShape(value, file.Location));
            else if (shapes.FirstOrDefault(s => s.Name == name && !placed.Contains(s)) is { } column && placed.Add(column)) ordered.Add(column);
        }
        // Partition columns the order does not name (Hive-style folders give no order) follow the file's columns.
        return [.. ordered, .. shapes.Where(s => !placed.Contains(s)), .. partition.Values.Where(v => missing.ContainsKey(v.Name)).Select(v => new DeltaPartitionShape(v, file.Location))];
    }

    public override JsonObject Schema() => (JsonObject)_schema.DeepClone();

    public override void Write(RowWriter row, int property, ParquetLeafCursor[] cursors, JsonValueWriter scratch) => _write(row, property);

    /// <summary>Never called: a partition column is a top-level column, written by the row overload.</summary>
    public override void Write(JsonValueWriter json, ParquetLeafCursor[] cursors) =>
        throw new InvalidOperationException($"partition column '{Name}' is top-level only");

    private JsonObject OfType(string type) => new() { ["type"] = Types(type) };

    private JsonObject Formatted(string format) => new() { ["type"] = Types("string"), ["format"] = format };

    private JsonObject Bytes() => new() { ["type"] = Types("string"), ["contentEncoding"] = "base64" };

    private JsonObject Decimal(int scale) => new() { ["type"] = Types("number"), ["multipleOf"] = Parquet.DecimalWriter.StepValue(scale) };

    /// <summary>The scale of a Delta <c>decimal(p,s)</c> type, else null.</summary>
    private static int? DecimalScale(string type) =>
        type.StartsWith("decimal(", StringComparison.Ordinal) && type.EndsWith(')') && type[8..^1].Split(',') is [_, var scale]
            && int.TryParse(scale, NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : null;

    /// <summary>A number as JSON writes it (digits, an optional sign, fraction and exponent), kept as written.</summary>
    private static bool IsJsonNumber(string? text) =>
        text is { Length: > 0 } && System.Text.RegularExpressions.Regex.IsMatch(text, @"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$");
}

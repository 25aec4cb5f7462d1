using System.Globalization;
using System.Text.Json.Nodes;
using NpgsqlTypes;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>How a PostgreSQL column is read and written as a record value.</summary>
internal enum PostgresValueKind { Int16, Int32, Int64, Float4, Float8, Numeric, Boolean, Text, Uuid, Date, Timestamp, Time, Bytea, RawJson, TextCast }

/// <summary>
/// One column of a table or view: its JSON Schema (from the PostgreSQL type) and how its values are selected and
/// written. Types with no exact JSON form (interval, inet, money, ranges, …) are selected as text; json/jsonb and
/// arrays are selected as JSON text and written as JSON values.
/// </summary>
internal sealed class PostgresColumn
{
    /// <param name="name">The column's name.</param>
    /// <param name="sqlType">Its type as PostgreSQL prints it.</param>
    /// <param name="typeName">Its type's name (a domain's base type).</param>
    /// <param name="typeModifier">Its type modifier (length, precision and scale).</param>
    /// <param name="elementTypeName">An array's element type; null for any other.</param>
    /// <param name="notNull">Declared NOT NULL.</param>
    /// <param name="arrayDimensions">
    /// An array column's dimensions: as declared (<c>pg_attribute.attndims</c>, 2 for <c>int[][]</c>, 0 where PostgreSQL does
    /// not record them, as in views, which is read as 1) until a sync measures its values (<see cref="WithArrayDimensions"/>).
    /// </param>
    /// <param name="generated">A generated column (<c>GENERATED ALWAYS AS (…) STORED</c>), which <c>COPY table (columns)</c> refuses.</param>
    public PostgresColumn(string name, string sqlType, string typeName, int typeModifier, string? elementTypeName, bool notNull, int arrayDimensions = 1,
        bool generated = false)
    {
        _typeName = typeName;
        _typeModifier = typeModifier;
        _elementTypeName = elementTypeName;
        IsGenerated = generated;
        Name = name;
        SqlType = sqlType;
        (Schema, Kind) = elementTypeName is not null
            ? (ArraySchema(elementTypeName, notNull, Math.Max(arrayDimensions, 1)), PostgresValueKind.RawJson)
            : Map(typeName, typeModifier, notNull);
        IsArray = elementTypeName is not null;
        IsInet = typeName == "inet" && !IsArray;
        LandsAsDouble = Kind == PostgresValueKind.Numeric && !Schema.ContainsKey("multipleOf");
        LandsAsDecimal = Kind == PostgresValueKind.Numeric && typeModifier >= 4 && (short)((typeModifier - 4) & 0xFFFF) is >= 0 and <= Parquet.LeafNode.DecimalPrecision;
        Elements = elementTypeName switch
        {
            "numeric" => ArrayElements.Numeric,
            "date" => ArrayElements.Date,
            "timestamp" => ArrayElements.Timestamp,
            "timestamptz" => ArrayElements.TimestampTz,
            _ => ArrayElements.Other,
        };
        NotNull = notNull;
        DbType = IsArray ? NpgsqlDbType.Text : ReadType(typeName, Kind);
    }

    private readonly string _typeName;
    private readonly int _typeModifier;
    private readonly string? _elementTypeName;

    /// <summary>This array column with its values' dimensions (nested lists per dimension).</summary>
    public PostgresColumn WithArrayDimensions(int dimensions)
        => new(Name, SqlType, _typeName, _typeModifier, _elementTypeName, NotNull, dimensions, IsGenerated);

    public string Name { get; }
    /// <summary>The type as PostgreSQL prints it (<c>numeric(12,2)</c>), for catalog metadata and bookmark casts.</summary>
    public string SqlType { get; }
    public JsonObject Schema { get; }
    public PostgresValueKind Kind { get; }
    /// <summary>Declared NOT NULL.</summary>
    public bool NotNull { get; }
    public bool IsArray { get; }
    /// <summary>A generated column: read through a SELECT, as <c>COPY table (columns)</c> refuses it.</summary>
    public bool IsGenerated { get; }
    /// <summary>An inet (or a domain over it), whose <c>::text</c> differs from its printed form (<see cref="SelectExpression"/>).</summary>
    private bool IsInet { get; }
    /// <summary>A numeric without precision and scale: it lands as a double, and only values the double holds exactly (<see cref="PostgresNumericAsDouble"/>).</summary>
    private bool LandsAsDouble { get; }
    /// <summary>A numeric(p, s) with s up to 38: it lands as DECIMAL(38, s), which holds more digits and places than a System.Decimal.</summary>
    private bool LandsAsDecimal { get; }
    /// <summary>What an array's elements are, where they need more than <c>array_to_json</c>'s text (<see cref="WriteArray"/>).</summary>
    private ArrayElements Elements { get; }

    private enum ArrayElements { Other, Numeric, Date, Timestamp, TimestampTz }
    /// <summary>The type its values are read as (<see cref="ReadType"/>).</summary>
    private NpgsqlDbType DbType { get; }

    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>
    /// The select-list expression that reads this column in the form <see cref="Write{TValues}"/> expects. An inet is
    /// printed by its type's output function (<c>inet_out</c>), as psql, COPY and its array elements show it: its
    /// <c>::text</c> always appends the mask (<c>::1/128</c> for <c>::1</c>).
    /// </summary>
    public string SelectExpression => IsArray
        ? $"array_to_json({Quote(Name)})::text"
        : IsInet ? $"inet_out({Quote(Name)})::text"
        : Kind is PostgresValueKind.RawJson or PostgresValueKind.TextCast ? $"{Quote(Name)}::text" : Quote(Name);

    /// <summary>
    /// Reads this column's next value from <paramref name="values"/> and writes it to <paramref name="row"/> as
    /// property <paramref name="property"/> (<see cref="Write{TValues,TTarget}"/>).
    /// </summary>
    public void Write<TValues>(ref TValues values, RowWriter row, int property, PostgresInfinities infinities) where TValues : struct, IPostgresValues, allows ref struct
    {
        var target = new RowWriterTarget(row, property);
        Write(ref values, ref target, infinities);
    }

    /// <summary>
    /// What the user can do about a value of this column that has no record form (appended to the error); empty when
    /// the value itself must change. A numeric's NaN, infinities and values of more digits than a decimal holds land as
    /// text or a double when a view selects them so.
    /// </summary>
    public string UnconvertibleHint =>
        LandsAsDouble ? $" (a numeric without precision and scale lands as a double; to land such values exactly, declare the column numeric(p,s), " +
            $"which lands as a decimal, or sync a view that selects {Quote(Name)}::numeric(38,s) or {Quote(Name)}::text; {Quote(Name)}::float8 lands them rounded)"
        : Kind == PostgresValueKind.Numeric ? $" (to land such values, sync a view that selects {Quote(Name)}::text or {Quote(Name)}::float8)"
        : Elements == ArrayElements.Numeric ? $" (a numeric array's elements land as doubles; to land such values, sync a view that selects {Quote(Name)}::text, " +
            $"or {Quote(Name)}::float8[] to land them rounded)"
        : "";

    /// <summary>What <c>infinity</c> and <c>-infinity</c> of this date or timestamp column (or array) land as (<see cref="PostgresInfinities"/>).</summary>
    public (string Latest, string Earliest) InfinityLandsAs => Kind == PostgresValueKind.Date || Elements == ArrayElements.Date
        ? ("9999-12-31", "0001-01-01")
        : ("9999-12-31T23:59:59.999999Z", "0001-01-01T00:00:00Z");

    /// <summary>Whether <see cref="Write{TValues,TTarget}"/> can store every value of this column in its leaf buffer (JSON goes through the shredder).</summary>
    public bool StoresDirectly => Kind is not PostgresValueKind.RawJson;

    /// <summary>
    /// Reads this column's next value from <paramref name="values"/> and hands it to <paramref name="target"/>, in the
    /// form the lake reads back from this tap's Singer JSON: a float4 as the double its shortest text parses to (NaN and
    /// the infinities as such), a uuid as its "D" text, instants as UTC. False when the target declines the value (a leaf
    /// buffer's typed append that leaves the value to the JSON path), and when a date or timestamp is an infinity but no
    /// <paramref name="infinities"/> tally is given to count it in (the row is then written again with one).
    /// </summary>
    public bool Write<TValues, TTarget>(ref TValues values, ref TTarget target, PostgresInfinities? infinities)
        where TValues : struct, IPostgresValues, allows ref struct
        where TTarget : struct, IPostgresValueTarget
    {
        if (values.NextIsNull()) return target.Null();
        switch (Kind)
        {
            case PostgresValueKind.Int16: return target.Long(values.Next<short>(DbType));
            case PostgresValueKind.Int32: return target.Long(values.Next<int>(DbType));
            case PostgresValueKind.Int64: return target.Long(values.Next<long>(DbType));
            case PostgresValueKind.Float4:
                var f = values.Next<float>(DbType);
                return target.Double(float.IsFinite(f) ? AsPrintedDouble(f) : f);
            case PostgresValueKind.Float8:
                return target.Double(values.Next<double>(DbType));
            case PostgresValueKind.Numeric:
                var numeric = values.NextNumeric();
                if (PostgresBinary.TryNumeric(numeric, out var number))
                {
                    if (LandsAsDouble && !PostgresNumericAsDouble.HoldsExactly(number)) throw PostgresNumericAsDouble.NotHeld(number);
                    return target.Decimal(number);
                }
                // Beyond a System.Decimal (29 to 38 digits, or 29 to 38 places): its exact digits as JSON number text, which
                // the DECIMAL(38, s) column reads exactly, or refuses by name as it does a Singer tap's number. A numeric
                // landing as a double, or of more places than a decimal column holds, fails as before (UnconvertibleHint).
                if (!LandsAsDecimal) return target.Decimal(PostgresBinary.Numeric(numeric));
                return target.Json(PostgresBinary.NumericText(numeric));
            case PostgresValueKind.Boolean: return target.Bool(values.Next<bool>(DbType));
            case PostgresValueKind.Uuid:
                Span<char> uuid = stackalloc char[36];
                values.Next<Guid>(DbType).TryFormat(uuid, out _, "D");
                return target.String(uuid);
            // Read as their binary forms (days, microseconds since 2000-01-01), where ±infinity are told from the dates they land as.
            case PostgresValueKind.Date:
                var days = values.Next<int>(DbType);
                if (days is int.MaxValue or int.MinValue && !Count(infinities, days > 0 ? 1 : 0, days < 0 ? 1 : 0)) return false;
                return target.Date(PostgresBinary.Date(days));
            // timestamptz arrives as UTC; timestamp (no zone) is taken as UTC, as the lake contract does.
            case PostgresValueKind.Timestamp:
                var micros = values.Next<long>(DbType);
                if (micros is long.MaxValue or long.MinValue && !Count(infinities, micros > 0 ? 1 : 0, micros < 0 ? 1 : 0)) return false;
                return target.Timestamp(PostgresBinary.Timestamp(micros, DbType == NpgsqlDbType.TimestampTz));
            case PostgresValueKind.Time: return target.Time(values.Next<TimeOnly>(DbType));
            case PostgresValueKind.Bytea: return target.Base64(values.NextBytes());
            case PostgresValueKind.RawJson:
                var json = values.NextText(DbType, out var jsonText);
                if (Elements != ArrayElements.Other) return WriteArray(json, jsonText, ref target, infinities);
                return jsonText is null ? target.Json(json) : target.Json(jsonText);
            default:
                var utf8 = values.NextText(DbType, out var text, checkUtf8: !target.ChecksUtf8);
                return text is null ? target.Utf8String(utf8) : target.String(text);
        }
    }

    private bool Count(PostgresInfinities? infinities, long positive, long negative)
    {
        if (infinities is null) return false;
        infinities.Add(this, positive, negative);
        return true;
    }

    /// <summary>
    /// An array whose elements follow the rules of their type at the top level: numerics land as doubles only when exact,
    /// and <c>array_to_json</c>'s <c>"infinity"</c>/<c>"-infinity"</c> elements land (and are counted) as the latest and
    /// earliest values, as a column's own infinities do.
    /// </summary>
    private bool WriteArray<TTarget>(ReadOnlySpan<byte> json, string? jsonText, ref TTarget target, PostgresInfinities? infinities)
        where TTarget : struct, IPostgresValueTarget
    {
        if (Elements == ArrayElements.Numeric)
        {
            PostgresNumericAsDouble.CheckElements(jsonText is null ? json : System.Text.Encoding.UTF8.GetBytes(jsonText));
            return jsonText is null ? target.Json(json) : target.Json(jsonText);
        }
        // The elements of a date or timestamp array are its only strings: "infinity" can be nothing else.
        if (jsonText is null ? json.IndexOf("infinity\""u8) < 0 : !jsonText.Contains("infinity\"", StringComparison.Ordinal))
            return jsonText is null ? target.Json(json) : target.Json(jsonText);
        var text = jsonText ?? System.Text.Encoding.UTF8.GetString(json);
        var (latest, earliest) = Elements switch
        {
            ArrayElements.Date => ("9999-12-31", "0001-01-01"),
            ArrayElements.Timestamp => ("9999-12-31T23:59:59.999999", "0001-01-01T00:00:00"),
            _ => ("9999-12-31T23:59:59.999999+00:00", "0001-01-01T00:00:00+00:00"),
        };
        var negative = Occurrences(text, "\"-infinity\"");
        var positive = Occurrences(text, "\"infinity\"");
        if (!Count(infinities, positive, negative)) return false;
        return target.Json(text.Replace("\"-infinity\"", $"\"{earliest}\"", StringComparison.Ordinal).Replace("\"infinity\"", $"\"{latest}\"", StringComparison.Ordinal));

        static int Occurrences(string text, string what)
        {
            var count = 0;
            for (var at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + what.Length, StringComparison.Ordinal)) count++;
            return count;
        }
    }

    /// <summary>
    /// The double that the float's shortest round-trip text (what a JSON writer prints for it) parses to: 1.1f gives
    /// 1.1, not 1.100000023841858, so a typed row lands as the Singer line would.
    /// </summary>
    internal static double AsPrintedDouble(float value)
    {
        Span<char> text = stackalloc char[32];
        value.TryFormat(text, out var written, "R", CultureInfo.InvariantCulture);
        return double.Parse(text[..written], NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The type a value is read as: the column's own for the types read natively, text for the columns selected as
    /// text (<see cref="SelectExpression"/>). A binary COPY needs it; a cursor's reader knows it from the result.
    /// </summary>
    private static NpgsqlDbType ReadType(string typeName, PostgresValueKind kind) => kind switch
    {
        PostgresValueKind.Int16 => NpgsqlDbType.Smallint,
        PostgresValueKind.Int32 => NpgsqlDbType.Integer,
        PostgresValueKind.Int64 => NpgsqlDbType.Bigint,
        PostgresValueKind.Float4 => NpgsqlDbType.Real,
        PostgresValueKind.Float8 => NpgsqlDbType.Double,
        PostgresValueKind.Numeric => NpgsqlDbType.Numeric,
        PostgresValueKind.Boolean => NpgsqlDbType.Boolean,
        PostgresValueKind.Uuid => NpgsqlDbType.Uuid,
        PostgresValueKind.Date => NpgsqlDbType.Date,
        PostgresValueKind.Timestamp => typeName == "timestamptz" ? NpgsqlDbType.TimestampTz : NpgsqlDbType.Timestamp,
        PostgresValueKind.Time => NpgsqlDbType.Time,
        PostgresValueKind.Bytea => NpgsqlDbType.Bytea,
        PostgresValueKind.Text => typeName switch
        {
            "varchar" => NpgsqlDbType.Varchar,
            "bpchar" => NpgsqlDbType.Char,
            "name" => NpgsqlDbType.Name,
            _ => NpgsqlDbType.Text,
        },
        _ => NpgsqlDbType.Text,
    };

    private static JsonArray Types(string type, bool notNull) => notNull ? new JsonArray(type) : new JsonArray("null", type);

    private static (JsonObject, PostgresValueKind) Map(string typeName, int typeModifier, bool notNull)
    {
        JsonObject Of(string type) => new() { ["type"] = Types(type, notNull) };
        JsonObject Formatted(string format) => new() { ["type"] = Types("string", notNull), ["format"] = format };
        switch (typeName)
        {
            case "int2": return (Of("integer"), PostgresValueKind.Int16);
            case "int4": return (Of("integer"), PostgresValueKind.Int32);
            case "int8": return (Of("integer"), PostgresValueKind.Int64);
            case "float4": return (Of("number"), PostgresValueKind.Float4);
            case "float8": return (Of("number"), PostgresValueKind.Float8);
            case "numeric":
                var number = Of("number");
                if (typeModifier >= 4)
                {
                    var scale = (short)((typeModifier - 4) & 0xFFFF);
                    if (scale >= 0) number["multipleOf"] = Parquet.DecimalWriter.StepValue(scale);
                }
                return (number, PostgresValueKind.Numeric);
            case "bool": return (Of("boolean"), PostgresValueKind.Boolean);
            case "text" or "varchar" or "bpchar" or "char" or "name" or "citext":
                var text = Of("string");
                if (typeName is "varchar" or "bpchar" && typeModifier > 4) text["maxLength"] = typeModifier - 4;
                // citext and the one-byte "char" have no string reader in Npgsql: they are selected as text.
                return (text, typeName is "citext" or "char" ? PostgresValueKind.TextCast : PostgresValueKind.Text);
            case "uuid": return (Formatted("uuid"), PostgresValueKind.Uuid);
            case "date": return (Formatted("date"), PostgresValueKind.Date);
            case "timestamp" or "timestamptz": return (Formatted("date-time"), PostgresValueKind.Timestamp);
            case "time": return (Formatted("time"), PostgresValueKind.Time);
            case "json" or "jsonb": return (new JsonObject(), PostgresValueKind.RawJson);
            case "bytea":
                var bytes = Of("string");
                bytes["contentEncoding"] = "base64";
                return (bytes, PostgresValueKind.Bytea);
            default: return (Of("string"), PostgresValueKind.TextCast);
        }
    }

    /// <summary>
    /// Arrays are read with <c>array_to_json</c>, so items take the JSON form of their element type; a multidimensional
    /// array is an array of arrays per dimension (<c>{{1,2},{3,4}}</c> is <c>[[1,2],[3,4]]</c>).
    /// </summary>
    private static JsonObject ArraySchema(string elementTypeName, bool notNull, int dimensions)
    {
        var (items, _) = elementTypeName switch
        {
            // array_to_json prints bytea elements as "\x…" hex text and time-zoned values as text.
            "bytea" => (new JsonObject { ["type"] = new JsonArray("null", "string") }, PostgresValueKind.Text),
            _ => Map(elementTypeName, -1, notNull: false),
        };
        for (var inner = 1; inner < dimensions; inner++) items = new JsonObject { ["type"] = Types("array", notNull: false), ["items"] = items };
        return new JsonObject { ["type"] = Types("array", notNull), ["items"] = items };
    }
}

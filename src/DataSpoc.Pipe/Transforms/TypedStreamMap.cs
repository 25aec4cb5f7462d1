using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Parquet;

namespace DataSpoc.Pipe.Transforms;

/// <summary>What a map made of one record on the typed path.</summary>
internal enum MapOutcome
{
    /// <summary>The record stays: shred it, then <see cref="TypedStreamMap.Lane.Fill"/> the columns the map produces.</summary>
    Keep,
    /// <summary>The filter dropped it.</summary>
    Filtered,
    /// <summary>The record holds something only the JSON path reproduces exactly: give it to <see cref="StreamMap.TransformRecord"/>.</summary>
    Fallback,
}

/// <summary>
/// A <see cref="StreamMap"/> that filters, computes, hashes or casts, compiled once per stream schema so that records are
/// never rewritten as JSON. It has two forms: on rows (<see cref="OnRows"/>, TypedStreamMap.Rows.cs), the usual one,
/// where the map works on the row already shredded; and on the record's text, described here, for maps the row form does
/// not take (it reads a column the map drops, casts to a date, hashes or casts a computed column). The record is shredded straight into the stream's batch through a
/// <see cref="RecordProjection"/>: kept columns read their tap property (renamed or not), dropped ones are skipped, and
/// each column the map produces (computed, hashed, cast) reads no property, so the shredder leaves it null. Before that,
/// one pass over the record finds the few properties the map reads; the filter and computations run over their values
/// as the expressions see them; after the shred, <see cref="Lane.Fill"/> puts the produced values, typed, into the row.
/// </summary>
/// <remarks>
/// The JSON path (<see cref="StreamMap.TransformRecord"/>) is the reference for every value, type and error. This path
/// reproduces it by construction (values as expressions see them come from the same readers; conversions and hashes are
/// the same functions) and hands a record back (<see cref="MapOutcome.Fallback"/>) whenever it holds what this path does
/// not reproduce exactly: a value that does not fit its column (the shredder's error names it), a property given twice,
/// text that is not valid Unicode, a number no double holds. Filter and compute errors are thrown here exactly as there.
/// </remarks>
internal sealed partial class TypedStreamMap
{
    /// <summary>
    /// The record key a produced column reads from: no record holds it in practice, so the shredder leaves the column
    /// null for <see cref="Lane.Fill"/>. Plain characters only (no quote, backslash or control), so the canonical scan
    /// still takes the stream's records. Should a record hold it after all, <see cref="Lane.Fill"/> finds the column
    /// not null and the record goes the JSON way.
    /// </summary>
    private static string ProducedKey(string column) => "\u27E8dataspoc-pipe transforms\u27E9" + column;

    private static readonly int EpochDay = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;
    private static readonly long EpochMicros = DateTime.UnixEpoch.Ticks / 10;

    private readonly StreamMap _map;
    /// <summary>Cells 0..raw-1: the tap properties the map reads; then one cell per computed column, in compute order.</summary>
    private readonly byte[][] _rawKeys;
    /// <summary>Per raw cell, the stored type of its tap column (see <see cref="StoredValue"/>), or null.</summary>
    private readonly StoredType?[] _rawTypes;
    private readonly int _cells;
    private readonly int[] _filterArgs;
    private readonly (int Cell, int[] Args, string Type, string Key)[] _compute;
    private readonly int[] _hash;
    private readonly (int Cell, string Target)[] _cast;
    private readonly (int Cell, int Column, LeafKind Kind)[] _outputs;
    private readonly Lane[] _lanes;

    /// <summary>The stream's columns as written, reading records through the map's projection.</summary>
    public ColumnSchema Columns { get; }

    /// <summary>Output column -> the record key <see cref="Columns"/> reads it from, where the two differ.</summary>
    private readonly Dictionary<string, string> _recordKeys = new(StringComparer.Ordinal);

    /// <summary>
    /// A record as the JSON path leaves it (each column under its output name) respelled as <see cref="Columns"/> reads
    /// records: kept columns under their tap property, produced ones under their produced key. The writer's shredders
    /// read both paths' records through the one schema.
    /// </summary>
    public JsonObject Respell(JsonObject record)
    {
        var properties = record.ToList();
        record.Clear();
        var respelled = new JsonObject();
        foreach (var (key, value) in properties) respelled[_recordKeys.GetValueOrDefault(key, key)] = value;
        return respelled;
    }

    /// <summary>The evaluator of parsing lane <paramref name="index"/> (each has its own values and expressions).</summary>
    public Lane ForLane(int index) => _lanes[index];

    private TypedStreamMap(StreamMap map, ColumnSchema columns, List<string> raw, List<string> computed, Dictionary<string, int> cells,
        List<(int, int, LeafKind)> outputs, int lanes, RowReads? rows = null)
    {
        _map = map;
        Columns = columns;
        _rows = rows;
        _rawKeys = [.. raw.Select(Encoding.UTF8.GetBytes)];
        _rawTypes = [.. raw.Select(map.StoredTypeOf)];
        _cells = raw.Count + computed.Count;
        _filterArgs = map.Filter is { } f ? [.. f.Columns.Select(c => cells[c])] : [];
        _compute = [.. map.Compute.Select((c, i) => (cells[c.Column], c.Expression.Columns.Select(a => cells[a]).ToArray(), map.ComputedType(i), "compute." + c.Column))];
        _hash = [.. map.Hash.Select(c => cells[c])];
        _cast = [.. map.Cast.Select(c => (cells[c.Key], c.Value))];
        _outputs = [.. outputs];
        _lanes = rows is null ? [.. Enumerable.Range(0, Math.Max(lanes, 1)).Select(_ => new Lane(this))] : [];
        _rowLanes = rows is null ? [] : [.. Enumerable.Range(0, Math.Max(lanes, 1)).Select(_ => new RowLane(this))];
        foreach (var child in columns.Root.Children)
            if (child.RecordKey != child.Name) _recordKeys[child.Name] = child.RecordKey;
    }

    /// <summary>
    /// The typed form of <paramref name="map"/> for a stream of <paramref name="tapSchema"/> (call after
    /// <see cref="StreamMap.TransformSchema"/> gave <paramref name="outputSchema"/>), or null when the stream keeps the
    /// JSON path: a produced column that is not a top-level integer, number, decimal, boolean, string, date or date-time, one
    /// that is the partition column (partitions are read from the record before it is shredded), or a copy of an array or
    /// object column.
    /// A computed decimal lands here as its unscaled value (a value the column does not take goes the JSON way).
    /// </summary>
    /// <exception cref="SchemaException">The output schema does not map to Parquet.</exception>
    public static TypedStreamMap? TryCompile(StreamMap map, JsonElement tapSchema, JsonElement outputSchema, string partitionColumn, int lanes)
    {
        var tapProperties = new List<string>();
        if (tapSchema.ValueKind == JsonValueKind.Object && tapSchema.TryGetProperty("properties", out var declared) && declared.ValueKind == JsonValueKind.Object)
            foreach (var p in declared.EnumerateObject()) tapProperties.Add(p.Name);
        var computed = map.Compute.Select(c => c.Column).ToList();
        bool Produced(string column) => computed.Contains(column) || map.Hash.Contains(column) || map.Cast.ContainsKey(column);
        var plan = map.Plan;
        if (partitionColumn.Length > 0 && plan.Any(p => p.Output == partitionColumn && Produced(p.Input))) return null;
        if (map.CopiesStructures) return null;

        var raw = new List<string>();
        foreach (var c in (map.Filter?.Columns ?? []).Concat(map.Compute.SelectMany(c => c.Expression.Columns)).Concat(map.Hash).Concat(map.Cast.Keys))
            if (!computed.Contains(c) && !raw.Contains(c)) raw.Add(c);
        var cells = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var c in raw.Concat(computed)) cells[c] = cells.Count;

        // The row-level form when the map's reads are columns of the row (see TypedStreamMap.Rows.cs), else the record's text.
        RowReads? rows = null;
        ColumnSchema? columns = null;
        if (RowLevelProjection(map, tapProperties, computed) is { } rowProjection)
        {
            columns = ColumnSchema.FromJsonSchema(outputSchema, rowProjection);
            rows = RowReads.TryPlan(map, columns, raw);
        }
        if (rows is null) columns = ColumnSchema.FromJsonSchema(outputSchema, TapProjection(map, tapSchema));
        var root = columns!.Root;

        var outputs = new List<(int, int, LeafKind)>();
        foreach (var (output, input) in plan)
        {
            if (!(rows is null ? Produced(input) : computed.Contains(input))) continue;
            if (root.Children[root.IndexOf(output)] is not LeafNode
                { Kind: LeafKind.Int64 or LeafKind.Double or LeafKind.Decimal or LeafKind.Boolean or LeafKind.String or LeafKind.Date or LeafKind.Timestamp } leaf)
                return null;
            outputs.Add((cells[input], leaf.ColumnIndex, leaf.Kind));
        }
        return new TypedStreamMap(map, columns, raw, computed, cells, outputs, lanes, rows);
    }

    /// <summary>
    /// How a tap's record of <paramref name="tapSchema"/> spells the columns <paramref name="map"/> leaves: a kept column
    /// reads its tap property, a produced one (computed, hashed, cast) a key no record holds, and the properties the map
    /// removes or overwrites are skipped, not counted as undeclared.
    /// </summary>
    internal static RecordProjection TapProjection(StreamMap map, JsonElement tapSchema)
    {
        var tapProperties = new List<string>();
        if (tapSchema.ValueKind == JsonValueKind.Object && tapSchema.TryGetProperty("properties", out var declared) && declared.ValueKind == JsonValueKind.Object)
            foreach (var p in declared.EnumerateObject()) tapProperties.Add(p.Name);
        var computed = map.Compute.Select(c => c.Column).ToList();
        bool Produced(string column) => computed.Contains(column) || map.Hash.Contains(column) || map.Cast.ContainsKey(column);
        var properties = new List<(string, string?)>();
        foreach (var p in tapProperties)
            properties.Add((p, Produced(p) ? null : map.Plan.FirstOrDefault(c => c.Input == p).Output));
        foreach (var (output, input) in map.Plan)
            if (Produced(input)) properties.Add((ProducedKey(input), output));
        // A record property named like a computed column is overwritten by it on the JSON path: skipped, not counted.
        foreach (var c in computed) properties.Add((c, null));
        return new RecordProjection(properties);
    }

    private enum Cell : byte { Missing, Raw, Value }

    /// <summary>A property value as the record spells it: where its text is, or its node (objects and arrays).</summary>
    private struct RawValue
    {
        public JsonTokenType Type;
        public int Offset;
        public int Length;
        public JsonNode? Node;
    }

    /// <summary>One parsing lane's evaluator: the cells of the current record and its own copies of the expressions.</summary>
    internal sealed class Lane
    {
        private readonly TypedStreamMap _compiled;
        private readonly StreamMap _map;
        private readonly Cell[] _state;
        private readonly RawValue[] _raw;
        /// <summary>Map values (see <see cref="ColumnCast.ToJson"/>) of cells in state <see cref="Cell.Value"/>.</summary>
        private readonly object?[] _values;
        private readonly TransformExpression? _filter;
        private readonly TransformExpression[] _compute;
        private readonly object?[][] _computeArgs;
        private readonly object?[] _filterArgs;
        private readonly object?[] _outputValues;
        /// <summary>The lane's SHA-256 for <c>hash:</c>.</summary>
        private readonly ShortValueSha256 _sha256 = new();

        public Lane(TypedStreamMap compiled)
        {
            _compiled = compiled;
            _map = compiled._map;
            _state = new Cell[compiled._cells];
            _raw = new RawValue[compiled._rawKeys.Length];
            _values = new object?[compiled._cells];
            _filter = _map.Filter?.Copy();
            _filterArgs = new object?[compiled._filterArgs.Length];
            _compute = [.. _map.Compute.Select(c => c.Expression.Copy())];
            _computeArgs = [.. compiled._compute.Select(c => new object?[c.Args.Length])];
            _outputValues = new object?[compiled._outputs.Length];
        }

        /// <summary>
        /// Reads the record at <paramref name="record"/>'s StartObject (to its EndObject), then filters and computes the
        /// produced values. Throws <see cref="TransformException"/> exactly where the JSON path would; on
        /// <see cref="MapOutcome.Fallback"/> the reader is spent (the caller keeps a copy).
        /// </summary>
        /// <param name="record">A reader on the record's StartObject.</param>
        /// <param name="json">The bytes the reader reads (or a span that holds them): values are located in it.</param>
        public MapOutcome Apply(ref Utf8JsonReader record, ReadOnlySpan<byte> json)
        {
            try
            {
                if (!Scan(ref record, json)) return MapOutcome.Fallback;
                if (_filter is not null)
                {
                    Bind(_compiled._filterArgs, _filterArgs, json);
                    if (!_map.Keeps(Evaluate(_filter, _filterArgs, "filter"))) return MapOutcome.Filtered;
                }
                var compute = _compiled._compute;
                for (var i = 0; i < compute.Length; i++)
                {
                    Bind(compute[i].Args, _computeArgs[i], json);
                    Set(compute[i].Cell, ColumnCast.Shape(Evaluate(_compute[i], _computeArgs[i], compute[i].Key), compute[i].Type));
                }
                foreach (var cell in _compiled._hash)
                    if (HashOf(cell, json) is { } hash) Set(cell, hash);
                foreach (var (cell, target) in _compiled._cast)
                {
                    if (_state[cell] == Cell.Missing) continue;
                    if (target == "string") Set(cell, TextOf(cell, json));
                    else if (ClrOf(cell, json) is not { } clr) Set(cell, null);
                    else if (ColumnCast.TryConvert(clr, target, out var converted)) Set(cell, converted);
                    else return MapOutcome.Fallback; // left as it is, the shredder rejects it: the JSON path names the value
                }
                var outputs = _compiled._outputs;
                for (var i = 0; i < outputs.Length; i++)
                {
                    var value = _state[outputs[i].Cell] switch
                    {
                        Cell.Value => _values[outputs[i].Cell],
                        Cell.Raw when _raw[outputs[i].Cell].Type == JsonTokenType.Null => null,
                        Cell.Raw => Unreachable(),
                        _ => null,
                    };
                    if (!Fits(outputs[i].Kind, value)) return MapOutcome.Fallback;
                    _outputValues[i] = value;
                }
                return MapOutcome.Keep;
            }
            catch (Exception e) when (e is not TransformException)
            {
                // A record this path cannot read as the JSON path would (text that is not Unicode, a number beyond a
                // double, malformed JSON): the JSON path reads it again and reports or stores it as it always did.
                return MapOutcome.Fallback;
            }
        }

        private static object? Unreachable() => throw new InvalidOperationException("a produced column kept its raw value");

        /// <summary>
        /// Puts the produced values into the row just shredded (where the shredder left them null); false when a
        /// produced column is not null there (a record that holds its <see cref="ProducedKey"/>), the caller then rolls
        /// the row back and gives the record to the JSON path.
        /// </summary>
        public bool Fill(ColumnBatch batch)
        {
            var outputs = _compiled._outputs;
            for (var i = 0; i < outputs.Length; i++)
            {
                var c = batch.Columns[outputs[i].Column];
                if (c.Levels == 0 || c.Def[c.Levels - 1] != 0) return false;
            }
            for (var i = 0; i < outputs.Length; i++)
            {
                var c = batch.Columns[outputs[i].Column];
                c.Truncate(c.Levels - 1, c.Values, c.ByteCount);
                Append(c, _outputValues[i]);
            }
            return true;
        }

        private object? Evaluate(TransformExpression expression, object?[] args, string key)
        {
            try
            {
                return expression.Evaluate(args);
            }
            catch (Exception e) when (ExpressionErrors.IsEvaluationError(e))
            {
                throw _map.EvaluationFailed(expression, key, e);
            }
        }

        private void Set(int cell, object? value)
        {
            _state[cell] = Cell.Value;
            _values[cell] = value;
        }

        private void Bind(int[] cells, object?[] args, ReadOnlySpan<byte> json)
        {
            for (var i = 0; i < cells.Length; i++) args[i] = ClrOf(cells[i], json);
        }

        /// <summary>Finds the properties the map reads; false for a record the JSON path must take (a property given twice).</summary>
        private bool Scan(ref Utf8JsonReader r, ReadOnlySpan<byte> json)
        {
            Array.Clear(_state);
            if (r.TokenType != JsonTokenType.StartObject || !json.Overlaps(r.ValueSpan, out var brace)) return false;
            var origin = brace - (int)r.TokenStartIndex;
            var keys = _compiled._rawKeys;
            while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
            {
                var cell = -1;
                for (var i = 0; i < keys.Length; i++)
                    if (r.ValueTextEquals(keys[i])) { cell = i; break; }
                r.Read();
                if (cell < 0)
                {
                    r.Skip();
                    continue;
                }
                if (_state[cell] != Cell.Missing) return false;
                _state[cell] = Cell.Raw;
                ref var raw = ref _raw[cell];
                raw.Type = r.TokenType;
                raw.Node = null;
                raw.Offset = origin + (int)r.TokenStartIndex;
                switch (r.TokenType)
                {
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        raw.Node = JsonNode.Parse(ref r);
                        break;
                    case JsonTokenType.String:
                        raw.Length = r.ValueSpan.Length + 2; // with its quotes
                        break;
                    default:
                        raw.Length = r.ValueSpan.Length;
                        break;
                }
            }
            return r.TokenType == JsonTokenType.EndObject;
        }

        /// <summary>A cell's value as expressions see it (<see cref="StoredValue.Of(JsonNode?, StoredType?)"/> of the JSON path's node).</summary>
        private object? ClrOf(int cell, ReadOnlySpan<byte> json)
        {
            switch (_state[cell])
            {
                case Cell.Missing: return null;
                // A computed decimal as the JSON path reads its number back (StoredValue.Of at its scale): itself.
                case Cell.Value: return _values[cell] is { } value ? value as ExactDecimal? ?? ColumnCast.ClrValue(ColumnCast.ToJson(value)) : null;
            }
            ref var raw = ref _raw[cell];
            if (raw.Type == JsonTokenType.Number && _compiled._rawTypes[cell] is { Kind: LeafKind.Decimal } decimalType
                && StoredValue.DecimalOf(json.Slice(raw.Offset, raw.Length), decimalType) is { } exact)
                return exact;
            switch (raw.Type)
            {
                case JsonTokenType.Null: return null;
                case JsonTokenType.True: return true;
                case JsonTokenType.False: return false;
                case JsonTokenType.StartObject or JsonTokenType.StartArray: return raw.Node!.ToJsonString();
            }
            var tapValue = RawClr(ref raw, json);
            return _compiled._rawTypes[cell] is { } type ? StoredValue.Of(tapValue, type) : tapValue;
        }

        /// <summary>A string or number cell's value as the tap wrote it.</summary>
        private static object RawClr(ref RawValue raw, ReadOnlySpan<byte> json)
        {
            var reader = new Utf8JsonReader(json.Slice(raw.Offset, raw.Length));
            reader.Read();
            if (raw.Type == JsonTokenType.String) return reader.GetString()!;
            if (reader.TryGetInt64(out var l)) return l;
            if (reader.TryGetDouble(out var d)) return d;
            throw new FormatException("a number no double holds");
        }

        /// <summary>
        /// The <c>hash:</c> of a cell's text (null for null or missing). A number, or a string without escapes, is hashed
        /// from the record's bytes: they are its text's UTF-8, as the JSON path would encode it.
        /// </summary>
        private string? HashOf(int cell, ReadOnlySpan<byte> json)
        {
            if (_state[cell] == Cell.Raw && _compiled._rawTypes[cell] is null)
            {
                ref var raw = ref _raw[cell];
                if (raw.Type == JsonTokenType.Number) return _map.Sha256Hex(json.Slice(raw.Offset, raw.Length), _sha256);
                if (raw.Type == JsonTokenType.String)
                {
                    var text = json.Slice(raw.Offset + 1, raw.Length - 2);
                    if (!text.Contains((byte)'\\') && System.Text.Unicode.Utf8.IsValid(text)) return _map.Sha256Hex(text, _sha256);
                }
            }
            return TextOf(cell, json) is { } t ? _map.Sha256Hex(t) : null;
        }

        /// <summary>A cell's text as <see cref="StoredValue.Text(JsonNode, StoredType?)"/> gives it (null for null or missing).</summary>
        private string? TextOf(int cell, ReadOnlySpan<byte> json)
        {
            switch (_state[cell])
            {
                case Cell.Missing: return null;
                case Cell.Value: return _values[cell] is { } value ? ColumnCast.Text(ColumnCast.ToJson(value)!) : null;
            }
            ref var raw = ref _raw[cell];
            var text = raw.Type switch
            {
                JsonTokenType.Null => null,
                JsonTokenType.String => (string)RawClr(ref raw, json),
                JsonTokenType.Number => Encoding.UTF8.GetString(json.Slice(raw.Offset, raw.Length)),
                JsonTokenType.True => "true",
                JsonTokenType.False => "false",
                _ => raw.Node!.ToJsonString(),
            };
            if (text is null || _compiled._rawTypes[cell] is not { } type || raw.Type is not (JsonTokenType.String or JsonTokenType.Number)) return text;
            return StoredValue.Text(RawClr(ref raw, json), raw.Type == JsonTokenType.Number ? text : null, text, type);
        }
    }

    /// <summary>Whether <paramref name="value"/> lands in a column of <paramref name="kind"/> as its JSON text would, without an error.</summary>
    private static bool Fits(LeafKind kind, object? value) => value switch
    {
        null => true,
        long => kind is LeafKind.Int64 or LeafKind.Double,
        double => kind == LeafKind.Double,
        bool => kind == LeafKind.Boolean,
        string s => kind == LeafKind.String && IsValidUtf16(s),
        DateOnly => kind == LeafKind.Date,
        DateTime => kind == LeafKind.Timestamp,
        // At the column's scale (ColumnCast.Shape put it there): its unscaled value is what the column stores.
        // A DOUBLE column a table holds for a computed decimal (DecimalsHeldAsDouble): one the double does not hold exactly
        // takes the JSON path, which counts it as landed rounded.
        ExactDecimal d => kind == LeafKind.Decimal || kind == LeafKind.Double && HoldsExactly(d),
        _ => false,
    };

    private static bool HoldsExactly(ExactDecimal d)
    {
        var text = Encoding.UTF8.GetBytes(d.ToString());
        return RoundedNumbers.HoldsExactly(text, double.Parse(text, CultureInfo.InvariantCulture));
    }

    /// <summary>No lone surrogate: the JSON path could not write the string as UTF-8 either.</summary>
    private static bool IsValidUtf16(string s)
    {
        var text = s.AsSpan();
        var i = text.IndexOfAnyInRange('\uD800', '\uDFFF');
        if (i < 0) return true;
        for (; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
            else if (char.IsSurrogate(text[i])) return false;
        }
        return true;
    }

    /// <summary>Appends a value that <see cref="Fits"/> its top-level column (definition level 1 when present, 0 when null).</summary>
    private static void Append(LeafBuffer c, object? value)
    {
        switch (value)
        {
            case null: c.AddNull(0, 0); break;
            case long l when c.Leaf.Kind == LeafKind.Double: c.AddDouble(l, 0); break;
            case long l: c.AddLong(l, 0); break;
            case double d: c.AddDouble(d, 0); break;
            case bool b: c.AddBool(b, 0); break;
            case string s:
                var n = Encoding.UTF8.GetBytes(s, c.BeginBytes(Encoding.UTF8.GetMaxByteCount(s.Length)));
                c.EndBytes(n, 0);
                break;
            case DateOnly date: c.AddInt(date.DayNumber - EpochDay, 0); break;
            case DateTime ts: c.AddLong(ts.Ticks / 10 - EpochMicros, 0); break;
            case ExactDecimal d when c.Leaf.Kind == LeafKind.Double: c.AddDouble(d.ToDouble(), 0); break;
            case ExactDecimal d:
                System.Buffers.Binary.BinaryPrimitives.WriteInt128BigEndian(c.BeginBytes(16), d.AtScale(c.Leaf.Scale).Unscaled);
                c.EndBytes(16, 0);
                break;
        }
    }
}

using System.Security.Cryptography;
using System.Text;
using DataSpoc.Pipe.Parquet;

namespace DataSpoc.Pipe.Transforms;

/// <summary>
/// The row-level form of a typed map: the record (or a typed source's row) is shredded first, through a projection in
/// which every column the map reads is a column of the row; the map then works on the row just appended. The filter
/// rolls it back; expressions read the row's typed values; <c>hash:</c> replaces a string column's UTF-8 bytes by the
/// hex of their SHA-256 (on the encoder thread: <see cref="DeferredHashes"/>); <c>cast:</c> is the column's own decode (the cast column reads its tap property as its target
/// type); computed columns are filled in as on the text form. No second pass over the record's text.
/// </summary>
/// <remarks>
/// A row holds a value, not how the record spelled it, and the JSON path's values depend on the spelling: <c>53</c> is a
/// long to an expression, <c>53.0</c> a double, both land as 53 in an integer column; a string column takes
/// <c>"42"</c> and <c>42</c> alike. So a value that more than one spelling could have given is ambiguous: an integer
/// (long, or the double of a fraction or exponent spelling), a whole double below 2^53 (double, or the long of an
/// integer spelling); each expression is evaluated over every form of its (at most two) ambiguous values and the
/// answer is kept only when all agree, except for a value the expression cannot tell apart in its two forms (compared
/// with an exact constant, or multiplied by a column holding a double: <see cref="TransformExpression.NumberFormPartners"/>),
/// which is evaluated once. Whatever the row cannot tell (a string that reads as a number, boolean, object
/// or array; a whole double at or beyond 2^53; values that disagree; more ambiguity than that) gives
/// <see cref="MapOutcome.Fallback"/>: the caller rolls the row back and the JSON path takes the record, as for
/// anything the shredder rejects. So values, types, counts and errors stay the JSON path's.
/// </remarks>
internal sealed partial class TypedStreamMap
{
    /// <summary>2^53: doubles below it hold every whole number exactly.</summary>
    private const double ExactDoubles = 9007199254740992d;

    private readonly RowReads? _rows;
    private readonly RowLane[] _rowLanes;

    /// <summary>Whether the map works on shredded rows (<see cref="ForRowLane"/>) rather than on the record's text (<see cref="ForLane"/>).</summary>
    public bool OnRows => _rows is not null;

    /// <summary>The row evaluator of parsing lane <paramref name="index"/>.</summary>
    public RowLane ForRowLane(int index) => _rowLanes[index];

    /// <summary>
    /// The projection of the row-level form: each tap property fills its output column (hashed and cast ones too: the
    /// column's type is the cast's target), computed columns read no property; null when the map does what the row
    /// form does not reproduce (a computed column hashed or cast, a column both hashed and cast, a cast to a date or
    /// date-time: those conversions are not the column's decode).
    /// </summary>
    private static RecordProjection? RowLevelProjection(StreamMap map, List<string> tapProperties, List<string> computed)
    {
        if (map.Hash.Any(computed.Contains) || map.Cast.Keys.Any(computed.Contains) || map.Hash.Any(map.Cast.ContainsKey)) return null;
        if (map.Cast.Values.Any(t => t is not ("integer" or "number" or "string" or "boolean"))) return null;
        var plan = map.Plan;
        var properties = new List<(string, string?)>();
        foreach (var p in tapProperties) properties.Add((p, plan.FirstOrDefault(c => c.Input == p).Output));
        foreach (var (output, input) in plan)
            if (computed.Contains(input)) properties.Add((ProducedKey(input), output));
        // A record property named like a computed column is overwritten by it on the JSON path: skipped, not counted.
        foreach (var c in computed) properties.Add((c, null));
        return new RecordProjection(properties);
    }

    /// <summary>Where the row-level form finds what the map reads: per raw cell, its leaf; the hashed and cast leaves.</summary>
    private sealed class RowReads
    {
        public required int[] CellLeaves { get; init; }
        public required LeafKind[] CellKinds { get; init; }
        /// <summary>Per raw cell, whether an expression reads it (only those are turned into values).</summary>
        public required bool[] Read { get; init; }
        public required int[] HashLeaves { get; init; }
        /// <summary>The cast leaves whose value <see cref="RowLane"/> checks per row (casts to integer and string).</summary>
        public required (int Leaf, string Target)[] CastLeaves { get; init; }

        /// <summary>The reads of <paramref name="raw"/> (the tap columns the map reads) in the row, or null when one is not a plain top-level column of the row.</summary>
        public static RowReads? TryPlan(StreamMap map, ColumnSchema columns, List<string> raw)
        {
            var expressionReads = (map.Filter?.Columns ?? []).Concat(map.Compute.SelectMany(c => c.Expression.Columns)).ToHashSet(StringComparer.Ordinal);
            var leaves = new int[raw.Count];
            var kinds = new LeafKind[raw.Count];
            var read = new bool[raw.Count];
            for (var i = 0; i < raw.Count; i++)
            {
                if (LeafOf(map, columns, raw[i]) is not { } leaf) return null;
                read[i] = expressionReads.Contains(raw[i]);
                // Dates, times and decimals are not the text an expression sees; nested values are not in a leaf.
                if (read[i] && leaf.Kind is not (LeafKind.Int64 or LeafKind.Double or LeafKind.Boolean or LeafKind.String)) return null;
                leaves[i] = leaf.ColumnIndex;
                kinds[i] = leaf.Kind;
            }
            // A hash or string cast of a typed tap column (number, date-time, ...) takes its stored value's text, which
            // the string column the row reads it into does not hold (it keeps the tap's spelling: 1.50, an offset).
            var hash = new List<int>();
            foreach (var c in map.Hash)
                if (map.StoredTypeOf(c) is null && LeafOf(map, columns, c) is { Kind: LeafKind.String } leaf) hash.Add(leaf.ColumnIndex);
                else return null;
            var cast = new List<(int, string)>();
            foreach (var (c, target) in map.Cast)
                if (LeafOf(map, columns, c) is not { } leaf || (target == "string" && map.StoredTypeOf(c) is not null)) return null;
                // Casts to number and boolean are the column's decode exactly: nothing to check per row (see CastIsExact).
                else if (target is "integer" or "string") cast.Add((leaf.ColumnIndex, target));
            return new RowReads { CellLeaves = leaves, CellKinds = kinds, Read = read, HashLeaves = [.. hash], CastLeaves = [.. cast] };
        }

        /// <summary>The top-level leaf a tap column lands in, or null when the map removes it or it is not a leaf.</summary>
        private static LeafNode? LeafOf(StreamMap map, ColumnSchema columns, string column)
        {
            var output = map.Plan.FirstOrDefault(p => p.Input == column).Output;
            if (output is null) return null;
            var index = columns.Root.IndexOf(output);
            return index >= 0 && columns.Root.Children[index] is LeafNode { RepLevel: 0 } leaf ? leaf : null;
        }
    }

    /// <summary>One parsing lane's row evaluator: the values of the current row and its own copies of the expressions.</summary>
    internal sealed class RowLane
    {
        private readonly TypedStreamMap _compiled;
        private readonly RowReads _reads;
        private readonly StreamMap _map;
        /// <summary>Per cell, the value as expressions see it (computed cells: the map value, see <see cref="ColumnCast.ToJson"/>).</summary>
        private readonly object?[] _values;
        /// <summary>Per cell, the value's other form when its spelling is ambiguous (see the class remarks).</summary>
        private readonly object?[] _others;
        private readonly bool[] _ambiguous;
        /// <summary>
        /// Per cell, a boxed double and a boxed long rewritten in place for each row: a row's values are used up before
        /// the next row is bound (expressions, comparisons, the row's produced columns), so these boxes serve every row
        /// and binding allocates nothing (a value and its other form are never of the same type).
        /// </summary>
        private readonly object[] _doubleBoxes, _longBoxes;
        private readonly TransformExpression? _filter;
        private readonly TransformExpression[] _compute;
        private readonly object?[][] _computeArgs;
        private readonly object?[] _filterArgs;
        /// <summary>
        /// Per argument of the filter and of each compute, when its number form cannot change the value: the arguments
        /// that must then hold a double of one form only (empty: none); null when it may change the value.
        /// </summary>
        private readonly int[]?[] _filterFormPartners;
        private readonly int[]?[][] _computeFormPartners;
        private readonly object?[] _outputValues;
        private readonly int[] _ambiguousArgs = new int[2];
        /// <summary>
        /// The unboxed forms of the filter and computes (see <see cref="ApplyTyped"/>); null when the map reads a string
        /// or a computed column, or an expression is not one <see cref="TypedExpression"/> computes.
        /// </summary>
        private readonly TypedExpression? _typedFilter;
        private readonly TypedExpression[]? _typedCompute;
        /// <summary>Per cell, its value (computed cells: their result) and its other form (see <see cref="_others"/>), unboxed.</summary>
        private readonly Scalar[] _scalars, _otherScalars;
        private readonly Scalar[] _typedFilterArgs;
        private readonly Scalar[][] _typedComputeArgs;
        /// <summary>Per compute, the kind its result must have to be kept as it is: a double for a number column, a long for an integer one.</summary>
        private readonly ScalarKind[] _computeKinds;

        public RowLane(TypedStreamMap compiled)
        {
            _compiled = compiled;
            _reads = compiled._rows!;
            _map = compiled._map;
            _values = new object?[compiled._cells];
            _others = new object?[compiled._cells];
            _ambiguous = new bool[compiled._cells];
            _doubleBoxes = [.. Enumerable.Range(0, compiled._cells).Select(_ => (object)0d)];
            _longBoxes = [.. Enumerable.Range(0, compiled._cells).Select(_ => (object)0L)];
            _filter = _map.Filter?.Copy();
            _filterArgs = new object?[compiled._filterArgs.Length];
            _compute = [.. _map.Compute.Select(c => c.Expression.Copy())];
            _computeArgs = [.. compiled._compute.Select(c => new object?[c.Args.Length])];
            _filterFormPartners = _filter is null ? [] : [.. _filter.Columns.Select(_filter.NumberFormPartners)];
            _computeFormPartners = [.. _compute.Select(e => e.Columns.Select(e.NumberFormPartners).ToArray())];
            _outputValues = new object?[compiled._outputs.Length];
            _scalars = new Scalar[compiled._cells];
            _otherScalars = new Scalar[compiled._cells];
            _typedFilterArgs = new Scalar[compiled._filterArgs.Length];
            _typedComputeArgs = [.. compiled._compute.Select(c => new Scalar[c.Args.Length])];
            _computeKinds = [.. compiled._compute.Select(c => c.Type == "integer" ? ScalarKind.Long : ScalarKind.Double)];
            if (TypedForms() is { } typed) (_typedFilter, _typedCompute) = typed;
        }

        /// <summary>Whether the lane evaluates the map's expressions unboxed (<see cref="ApplyTyped"/>) before the boxed form.</summary>
        internal bool IsUnboxed => _typedCompute is not null;

        /// <summary>
        /// The unboxed filter (null: none) and computes, when every expression reads only number and boolean columns of
        /// the row, computes with <see cref="TypedExpression"/>, and each compute gives a number or an integer.
        /// </summary>
        private (TypedExpression?, TypedExpression[])? TypedForms()
        {
            var compiled = _compiled;
            bool Unboxed(int cell) => cell < _reads.CellLeaves.Length && _reads.CellKinds[cell] is LeafKind.Int64 or LeafKind.Double or LeafKind.Boolean;
            if (!compiled._filterArgs.All(Unboxed) || !compiled._compute.All(c => c.Args.All(Unboxed) && c.Type is "number" or "integer")) return null;
            TypedExpression? filter = null;
            if (_filter is not null && (filter = _filter.CompileTyped()) is null) return null;
            var compute = new TypedExpression[_compute.Length];
            for (var i = 0; i < compute.Length; i++)
                if ((compute[i] = _compute[i].CompileTyped()!) is null) return null;
            return (filter, compute);
        }

        /// <summary>
        /// Maps the last row of <paramref name="batch"/> (just appended, <see cref="ColumnBatch.Rows"/> counting it or
        /// not): on <see cref="MapOutcome.Keep"/> the row holds the map's output; on the others the caller rolls it back
        /// (and on <see cref="MapOutcome.Fallback"/> gives the record to the JSON path). Throws
        /// <see cref="TransformException"/> exactly where the JSON path would (the caller rolls back first).
        /// </summary>
        /// <param name="batch">The batch the row was appended to.</param>
        /// <param name="hashNow">
        /// Write <c>hash:</c> digests into the row now rather than leave them to the encoder thread
        /// (<see cref="DeferredHashes"/>): when the encoder is the one behind (<see cref="TableWriter.EncoderBehind"/>).
        /// Either way the column holds the same digests when it is encoded.
        /// </param>
        public MapOutcome Apply(ColumnBatch batch, bool hashNow = false)
        {
            _hashNow = hashNow;
            if (_typedCompute is not null && ApplyTyped(batch) is { } typed) return typed;
            try
            {
                if (!Bind(batch.Columns)) return MapOutcome.Fallback;
                var compiled = _compiled;
                if (_filter is not null)
                {
                    if (!TryEvaluate(_filter, compiled._filterArgs, _filterArgs, _filterFormPartners, "filter", null, out var kept)) return MapOutcome.Fallback;
                    if (!_map.Keeps(kept)) return MapOutcome.Filtered;
                }
                var compute = compiled._compute;
                for (var i = 0; i < compute.Length; i++)
                {
                    if (!TryEvaluate(_compute[i], compute[i].Args, _computeArgs[i], _computeFormPartners[i], compute[i].Key, compute[i].Type, out var value)) return MapOutcome.Fallback;
                    _values[compute[i].Cell] = value;
                }
                var outputs = compiled._outputs;
                for (var i = 0; i < outputs.Length; i++)
                {
                    var value = _values[outputs[i].Cell];
                    if (!Fits(outputs[i].Kind, value)) return MapOutcome.Fallback;
                    _outputValues[i] = value;
                }
                return FinishRow(batch.Columns, typed: false);
            }
            catch (Exception e) when (e is not TransformException)
            {
                return MapOutcome.Fallback;
            }
        }

        /// <summary>
        /// <see cref="Apply"/> with unboxed values, the same rules: the filter and computes through
        /// <see cref="TypedExpression"/>, each ambiguous value in both forms where it could matter. Null, with nothing
        /// of the row changed, where the typed form has no answer (an expression the object form decides, a whole
        /// double at or beyond 2^53, a result not in its column's shape, forms that disagree): <see cref="Apply"/>
        /// then maps the row with boxed values, which reproduces what the JSON path does for it.
        /// </summary>
        private MapOutcome? ApplyTyped(ColumnBatch batch)
        {
            if (!BindTyped(batch.Columns)) return null;
            var compiled = _compiled;
            if (_typedFilter is not null)
            {
                if (!TryEvaluateTyped(_typedFilter, compiled._filterArgs, _typedFilterArgs, _filterFormPartners, ScalarKind.Unhandled, out var kept)) return null;
                // Only true keeps the row: a null condition (a comparison with a null) drops it, as SQL's WHERE (StreamMap.Keeps).
                if (kept.Kind != ScalarKind.Boolean) return kept.Kind == ScalarKind.Null ? MapOutcome.Filtered : null;
                if (kept.Long == 0) return MapOutcome.Filtered;
            }
            var compute = compiled._compute;
            for (var i = 0; i < compute.Length; i++)
            {
                if (!TryEvaluateTyped(_typedCompute![i], compute[i].Args, _typedComputeArgs[i], _computeFormPartners[i], _computeKinds[i], out var value)) return null;
                _scalars[compute[i].Cell] = value;
            }
            foreach (var (cell, _, kind) in compiled._outputs)
                if (!FitsUnboxed(kind, _scalars[cell])) return null;
            try
            {
                return FinishRow(batch.Columns, typed: true);
            }
            catch (Exception e) when (e is not TransformException)
            {
                return MapOutcome.Fallback;
            }
        }

        /// <summary>
        /// The part of a mapped row after its expressions: cast checks, hashes, and the produced columns appended (from
        /// <see cref="_outputValues"/>, or when <paramref name="typed"/> from the unboxed results in <see cref="_scalars"/>).
        /// </summary>
        private MapOutcome FinishRow(LeafBuffer[] columns, bool typed)
        {
            // Every check before the row changes: a row handed back has no digest left to write (DeferredBytes stays exact).
            foreach (var (leaf, target) in _reads.CastLeaves)
                if (!CastIsExact(columns[leaf], target)) return MapOutcome.Fallback;
            foreach (var leaf in _reads.HashLeaves)
                if (!CanHash(columns[leaf])) return MapOutcome.Fallback;
            var outputs = _compiled._outputs;
            for (var i = 0; i < outputs.Length; i++)
            {
                var c = columns[outputs[i].Column];
                // Not null: the record holds the produced column's key after all; the JSON path takes it.
                if (c.Def[c.Levels - 1] != 0) return MapOutcome.Fallback;
            }
            foreach (var leaf in _reads.HashLeaves)
                if (_hashNow) HashInPlace(columns[leaf]);
                else DeferHash(columns[leaf]);
            for (var i = 0; i < outputs.Length; i++)
            {
                var c = columns[outputs[i].Column];
                c.Truncate(c.Levels - 1, c.Values, c.ByteCount);
                if (typed) AppendUnboxed(c, _scalars[outputs[i].Cell]);
                else Append(c, _outputValues[i]);
            }
            return MapOutcome.Keep;
        }

        /// <summary><see cref="Bind"/> into <see cref="_scalars"/>: false for a whole double at or beyond 2^53 (the boxed path decides).</summary>
        private bool BindTyped(LeafBuffer[] columns)
        {
            var reads = _reads;
            for (var cell = 0; cell < reads.CellLeaves.Length; cell++)
            {
                if (!reads.Read[cell]) continue;
                var c = columns[reads.CellLeaves[cell]];
                _ambiguous[cell] = false;
                if (c.Def[c.Levels - 1] != c.Leaf.DefLevel)
                {
                    _scalars[cell] = Scalar.Null;
                    continue;
                }
                var at = c.Values - 1;
                switch (reads.CellKinds[cell])
                {
                    case LeafKind.Int64:
                        var l = c.Longs[at];
                        _scalars[cell] = Scalar.Of(l);
                        _otherScalars[cell] = Scalar.Of((double)l);
                        _ambiguous[cell] = true;
                        break;
                    case LeafKind.Double:
                        var d = c.Doubles[at];
                        _scalars[cell] = Scalar.Of(d);
                        if (double.IsFinite(d) && Math.Floor(d) == d)
                        {
                            if (Math.Abs(d) >= ExactDoubles) return false;
                            _otherScalars[cell] = Scalar.Of((long)d);
                            _ambiguous[cell] = true;
                        }
                        break;
                    default:
                        _scalars[cell] = Scalar.Of(c.Bools[at]);
                        break;
                }
            }
            return true;
        }

        /// <summary><see cref="TryEvaluate"/> over unboxed values; false where the boxed form must decide.</summary>
        private bool TryEvaluateTyped(TypedExpression expression, int[] cells, Scalar[] args, int[]?[] formPartners, ScalarKind kind, out Scalar result)
        {
            for (var i = 0; i < cells.Length; i++) args[i] = _scalars[cells[i]];
            var ambiguous = 0;
            for (var i = 0; i < cells.Length; i++)
            {
                var cell = cells[i];
                if (_ambiguous[cell] && !SameForEitherFormTyped(cell, formPartners[i], cells, args))
                {
                    if (ambiguous == _ambiguousArgs.Length || IsIntegerZero(_scalars[cell])) { result = default; return false; }
                    _ambiguousArgs[ambiguous++] = i;
                }
            }
            try
            {
                result = expression.Evaluate(args);
                if (!InShape(result, kind)) return false;
                for (var form = 1; form < 1 << ambiguous; form++)
                {
                    for (var a = 0; a < ambiguous; a++)
                    {
                        var i = _ambiguousArgs[a];
                        args[i] = (form >> a & 1) != 0 ? _otherScalars[cells[i]] : _scalars[cells[i]];
                    }
                    var other = expression.Evaluate(args);
                    if (!InShape(other, kind) || !result.Same(other)) return false;
                }
                return true;
            }
            catch (OverflowException)
            {
                // A whole number that overflowed: the JSON path rejects the record with its stream, line and expression.
                result = default;
                return false;
            }
        }

        /// <summary>
        /// A result the boxed form keeps as it is: for a filter (<paramref name="kind"/> Unhandled) any answer (its caller
        /// checks it is a boolean); for a compute, a finite double for a number column, a long for an integer one (others
        /// are shaped there: <see cref="ColumnCast.Shape"/>).
        /// </summary>
        private static bool InShape(in Scalar value, ScalarKind kind) => kind == ScalarKind.Unhandled
            ? !value.IsUnhandled
            : value.Kind == kind && (kind != ScalarKind.Double || double.IsFinite(value.Double));

        /// <summary>
        /// An integer column's 0, where its form matters, has three forms, not two: an integer column also takes a whole
        /// number written with a fraction, so the 0 may have been <c>0</c> or <c>-0</c> (the JSON path reads a long),
        /// <c>0.0</c> (a double) or <c>-0.0</c> (a negative zero, which division and text tell from 0: "-0"). The JSON
        /// path decides such a row.
        /// </summary>
        private static bool IsIntegerZero(in Scalar value) => value.Kind == ScalarKind.Long && value.Long == 0;

        /// <summary><see cref="SameForEitherForm"/> over unboxed values.</summary>
        private bool SameForEitherFormTyped(int cell, int[]? partners, int[] cells, Scalar[] args)
        {
            if (partners is null) return false;
            if (partners.Length == 0) return true;
            if (_scalars[cell].Kind == ScalarKind.Double && _scalars[cell].Long == BitConverter.DoubleToInt64Bits(-0.0)) return false;
            foreach (var p in partners)
                if (args[p].Kind != ScalarKind.Double || _ambiguous[cells[p]]) return false;
            return true;
        }

        /// <summary>The values of the raw cells expressions read, from the row; false when one is ambiguous beyond repair.</summary>
        private bool Bind(LeafBuffer[] columns)
        {
            var reads = _reads;
            for (var cell = 0; cell < reads.CellLeaves.Length; cell++)
            {
                if (!reads.Read[cell]) continue;
                var c = columns[reads.CellLeaves[cell]];
                _ambiguous[cell] = false;
                if (c.Def[c.Levels - 1] != c.Leaf.DefLevel)
                {
                    _values[cell] = null;
                    continue;
                }
                var at = c.Values - 1;
                switch (reads.CellKinds[cell])
                {
                    case LeafKind.Int64:
                        var l = c.Longs[at];
                        _values[cell] = Boxes.IsSmall(l) ? Boxes.Of(l) : Rebox(cell, l);
                        _others[cell] = Boxes.IsSmall(l) ? Boxes.OfDouble(l) : Rebox(cell, (double)l);
                        _ambiguous[cell] = true;
                        break;
                    case LeafKind.Double:
                        var d = c.Doubles[at];
                        if (double.IsFinite(d) && Math.Floor(d) == d)
                        {
                            if (Math.Abs(d) >= ExactDoubles) return false;
                            var whole = (long)d;
                            // -0.0 is whole too, and its own value: only a positive zero takes the shared box.
                            _values[cell] = Boxes.IsSmall(whole) && !double.IsNegative(d) ? Boxes.OfDouble(whole) : Rebox(cell, d);
                            _others[cell] = Boxes.IsSmall(whole) ? Boxes.Of(whole) : Rebox(cell, whole);
                            _ambiguous[cell] = true;
                        }
                        else _values[cell] = Rebox(cell, d);
                        break;
                    case LeafKind.Boolean:
                        _values[cell] = c.Bools[at] ? Boxes.True : Boxes.False;
                        break;
                    default:
                        var text = c.Bytes.AsSpan(c.Offsets[at], c.Offsets[at + 1] - c.Offsets[at]);
                        if (ReadsAsOtherThanString(text)) return false;
                        _values[cell] = Encoding.UTF8.GetString(text);
                        break;
                }
            }
            return true;
        }

        /// <summary>Cell <paramref name="cell"/>'s box holding <paramref name="value"/> (see <see cref="_doubleBoxes"/>).</summary>
        private object Rebox(int cell, double value)
        {
            var box = _doubleBoxes[cell];
            System.Runtime.CompilerServices.Unsafe.Unbox<double>(box) = value;
            return box;
        }

        /// <summary>Cell <paramref name="cell"/>'s box holding <paramref name="value"/> (see <see cref="_longBoxes"/>).</summary>
        private object Rebox(int cell, long value)
        {
            var box = _longBoxes[cell];
            System.Runtime.CompilerServices.Unsafe.Unbox<long>(box) = value;
            return box;
        }

        /// <summary>
        /// Evaluates an expression over its cells, as every form of its ambiguous values; false (the JSON path decides)
        /// when the forms disagree, one of them fails, or more than two values are ambiguous. A compute's value is
        /// shaped to its column's <paramref name="type"/> before forms are compared.
        /// </summary>
        private bool TryEvaluate(TransformExpression expression, int[] cells, object?[] args, int[]?[] formPartners, string key, string? type, out object? result)
        {
            for (var i = 0; i < cells.Length; i++) args[i] = ValueOf(cells[i]);
            var ambiguous = 0;
            for (var i = 0; i < cells.Length; i++)
            {
                var cell = cells[i];
                if (_ambiguous[cell] && !SameForEitherForm(cell, formPartners[i], cells, args))
                {
                    if (ambiguous == _ambiguousArgs.Length || _values[cell] is 0L) { result = null; return false; }
                    _ambiguousArgs[ambiguous++] = i;
                }
            }
            if (ambiguous == 0)
            {
                result = Evaluate(expression, args, key, type);
                return true;
            }
            try
            {
                result = Evaluate(expression, args, key, type);
                for (var form = 1; form < 1 << ambiguous; form++)
                {
                    for (var a = 0; a < ambiguous; a++)
                    {
                        var i = _ambiguousArgs[a];
                        args[i] = (form >> a & 1) != 0 ? _others[cells[i]] : _values[cells[i]];
                    }
                    if (!Same(result, Evaluate(expression, args, key, type))) return false;
                }
                return true;
            }
            catch (TransformException)
            {
                result = null;
                return false;
            }
        }

        /// <summary>
        /// Whether the ambiguous <paramref name="cell"/>'s other form cannot change the expression's value: its
        /// <paramref name="partners"/> (argument indexes, <see cref="TransformExpression.NumberFormPartners"/>) hold
        /// doubles that are not ambiguous themselves. A -0.0 has 0 as its other form, not its own double: arithmetic
        /// tells them apart, so only comparisons (no partners) take it.
        /// </summary>
        private bool SameForEitherForm(int cell, int[]? partners, int[] cells, object?[] args)
        {
            if (partners is null) return false;
            if (partners.Length == 0) return true;
            if (_values[cell] is double d && d == 0 && double.IsNegative(d)) return false;
            foreach (var p in partners)
                if (args[p] is not double || _ambiguous[cells[p]]) return false;
            return true;
        }

        /// <summary>A cell's value as expressions see it (a computed one as the JSON path reads it back).</summary>
        private object? ValueOf(int cell) =>
            cell < _reads.CellLeaves.Length ? _values[cell] : _values[cell] is { } value ? ColumnCast.ClrValue(ColumnCast.ToJson(value)) : null;

        private object? Evaluate(TransformExpression expression, object?[] args, string key, string? type)
        {
            object? value;
            try
            {
                value = expression.Evaluate(args);
            }
            catch (Exception e) when (ExpressionErrors.IsEvaluationError(e))
            {
                throw _map.EvaluationFailed(expression, key, e);
            }
            // Already its column's shape (the usual case): kept as it is, not boxed again.
            if (type is null || (value is double d && double.IsFinite(d) && type == "number") || (value is long && type == "integer")) return value;
            return ColumnCast.Shape(value, type);
        }

        /// <summary>Equal values of the same type (doubles bit for bit: -0.0 is not 0.0 in a column).</summary>
        private static bool Same(object? a, object? b) => (a, b) switch
        {
            (null, null) => true,
            (double x, double y) => BitConverter.DoubleToInt64Bits(x) == BitConverter.DoubleToInt64Bits(y),
            (not null, not null) => a.GetType() == b.GetType() && a.Equals(b),
            _ => false,
        };

        /// <summary>
        /// Whether a cast column's value in the row is what the JSON path's conversion gives: an integer beyond 2^53 may
        /// have been spelled with a fraction or exponent (the JSON path converts its double); a string column's text
        /// that starts an object or array was not a string (the JSON path writes it compact).
        /// </summary>
        private static bool CastIsExact(LeafBuffer c, string target)
        {
            if (c.Def[c.Levels - 1] != c.Leaf.DefLevel) return true;
            var at = c.Values - 1;
            return target switch
            {
                "integer" => Math.Abs((double)c.Longs[at]) < ExactDoubles,
                "string" => !StartsObjectOrArray(c.Bytes.AsSpan(c.Offsets[at], c.Offsets[at + 1] - c.Offsets[at])),
                _ => true,
            };
        }

        /// <summary>Whether the row's value of a <c>hash:</c> column is hashed as its text: not for a text that was an object or array.</summary>
        private static bool CanHash(LeafBuffer c)
        {
            if (c.Def[c.Levels - 1] != c.Leaf.DefLevel) return true;
            var at = c.Values - 1;
            return !StartsObjectOrArray(c.Bytes.AsSpan(c.Offsets[at], c.Offsets[at + 1] - c.Offsets[at]));
        }

        /// <summary>
        /// Replaces the row's value of a <c>hash:</c> column (null stays null) by the lower-case hex of the SHA-256 of the
        /// salt and its UTF-8 text, written straight into the column.
        /// </summary>
        private void HashInPlace(LeafBuffer c)
        {
            if (c.Def[c.Levels - 1] != c.Leaf.DefLevel) return;
            var at = c.Values - 1;
            var start = c.Offsets[at];
            Span<byte> hex = stackalloc byte[HexDigestBytes];
            (_digests ??= new Sha256HexMemo(Encoding.UTF8.GetBytes(_map.HashSalt))).WriteHex(c.Bytes.AsSpan(start, c.Offsets[at + 1] - start), hex);
            c.Truncate(c.Levels - 1, at, start);
            hex.CopyTo(c.BeginBytes(HexDigestBytes));
            c.EndBytes(HexDigestBytes, 0);
        }

        /// <summary>The lane's digests written on the parsing thread (SHA-256 with the map's salt, recent ones remembered).</summary>
        private Sha256HexMemo? _digests;
        /// <summary>The current row's <c>hashNow</c> (see <see cref="Apply"/>).</summary>
        private bool _hashNow;

        /// <summary>
        /// Leaves the row's value of a <c>hash:</c> column (null stays null) for the encoder thread to hash
        /// (<see cref="DeferredHashes"/>): its text followed by a <see cref="Deferred"/> byte, and the digest's extra size
        /// counted in <see cref="LeafBuffer.DeferredBytes"/>. The one parsing lane is the run's bottleneck; the encoder
        /// threads have time to spare.
        /// </summary>
        private static void DeferHash(LeafBuffer c)
        {
            if (c.Def[c.Levels - 1] != c.Leaf.DefLevel) return;
            var length = c.Offsets[c.Values] - c.Offsets[c.Values - 1];
            // The row's value is the column's last: one byte more extends it where it ends.
            c.BeginBytes(1)[0] = Deferred;
            c.Offsets[c.Values] = ++c.ByteCount;
            c.DeferredBytes += HexDigestBytes - (length + 1);
        }
    }

    /// <summary>
    /// The last byte of a <c>hash:</c> value whose digest is still to be written: never in UTF-8 text, so a row the JSON
    /// path wrote (its digest already there) is told apart from one the row path left.
    /// </summary>
    private const byte Deferred = 0xFF;

    private const int HexDigestBytes = SHA256.HashSizeInBytes * 2;

    private Action<ColumnBatch>? _deferredHashes;
    private byte[]? _saltUtf8;
    /// <summary>The encoder thread's digests (several maps' batches are encoded on one thread, one at a time).</summary>
    [ThreadStatic] private static Sha256HexMemo? t_digests;

    /// <summary>
    /// The hook for the stream's writer (<see cref="TableWriter.BeforeEncode"/>) when the map works on rows and hashes:
    /// on the encoder thread, it replaces each value the row path left (see <see cref="RowLane"/>'s DeferHash) by the
    /// lower-case hex of the SHA-256 of the salt and its text, as <see cref="StreamMap.Sha256Hex(string)"/> gives it.
    /// </summary>
    public Action<ColumnBatch>? DeferredHashes => _rows is { HashLeaves.Length: > 0 } ? _deferredHashes ??= WriteDeferredHashes : null;

    private void WriteDeferredHashes(ColumnBatch batch)
    {
        Sha256HexMemo? digests = null;
        var salt = _saltUtf8 ??= Encoding.UTF8.GetBytes(_map.HashSalt);
        foreach (var leaf in _rows!.HashLeaves)
        {
            var c = batch.Columns[leaf];
            var offsets = c.Offsets;
            var source = c.Bytes;
            long size = 0;
            var deferred = false;
            for (var i = 0; i < c.Values; i++)
            {
                var length = offsets[i + 1] - offsets[i];
                if (length > 0 && source[offsets[i + 1] - 1] == Deferred)
                {
                    deferred = true;
                    size += HexDigestBytes;
                }
                else size += length;
            }
            if (!deferred) continue;
            digests ??= Sha256HexMemo.For(ref t_digests, salt);
            var target = c.Rent<byte>((int)Math.Max(size, 16));
            var from = offsets[0];
            var at = 0;
            for (var i = 0; i < c.Values; i++)
            {
                var to = offsets[i + 1];
                var value = source.AsSpan(from, to - from);
                offsets[i] = at;
                if (value.Length > 0 && value[^1] == Deferred)
                {
                    digests.WriteHex(value[..^1], target.AsSpan(at, HexDigestBytes));
                    at += HexDigestBytes;
                }
                else
                {
                    value.CopyTo(target.AsSpan(at));
                    at += value.Length;
                }
                from = to;
            }
            offsets[c.Values] = at;
            c.Return(source);
            c.Bytes = target;
            c.ByteCount = at;
            c.DeferredBytes = 0;
        }
    }

    /// <summary><see cref="Fits"/> for an unboxed compute result (a long or a finite double: see <see cref="RowLane"/>'s InShape).</summary>
    private static bool FitsUnboxed(LeafKind kind, in Scalar value) => value.Kind switch
    {
        ScalarKind.Long => kind is LeafKind.Int64 or LeafKind.Double,
        ScalarKind.Double => kind == LeafKind.Double,
        _ => false,
    };

    /// <summary><see cref="Append"/> for a value that <see cref="FitsUnboxed"/>.</summary>
    private static void AppendUnboxed(LeafBuffer c, in Scalar value)
    {
        if (value.Kind == ScalarKind.Double) c.AddDouble(value.Double, 0);
        else if (c.Leaf.Kind == LeafKind.Double) c.AddDouble(value.Long, 0);
        else c.AddLong(value.Long, 0);
    }

    /// <summary>Boxed values of small whole numbers, made once: expressions take values as objects.</summary>
    private static class Boxes
    {
        private const int Smallest = -128, Largest = 1023;
        private static readonly object[] Longs = [.. Enumerable.Range(Smallest, Largest - Smallest + 1).Select(i => (object)(long)i)];
        private static readonly object[] Doubles = [.. Enumerable.Range(Smallest, Largest - Smallest + 1).Select(i => (object)(double)i)];
        public static readonly object True = true, False = false;

        public static bool IsSmall(long value) => value is >= Smallest and <= Largest;

        /// <summary>The shared box of a small value (<see cref="IsSmall"/>).</summary>
        public static object Of(long value) => Longs[value - Smallest];

        /// <summary>The shared box of a small value's double (<see cref="IsSmall"/>).</summary>
        public static object OfDouble(long value) => Doubles[value - Smallest];
    }

    /// <summary>A string column's text that starts a JSON object or array (a string column takes such values as their text).</summary>
    private static bool StartsObjectOrArray(ReadOnlySpan<byte> text) => text.Length > 0 && text[0] is (byte)'{' or (byte)'[';

    /// <summary>
    /// Whether a string column's text could have been another JSON value (a string column takes any scalar as its
    /// text): an object, an array, <c>true</c>, <c>false</c> or a JSON number. Expressions see those as what they were.
    /// </summary>
    private static bool ReadsAsOtherThanString(ReadOnlySpan<byte> text)
    {
        if (text.IsEmpty) return false;
        if (StartsObjectOrArray(text) || text.SequenceEqual("true"u8) || text.SequenceEqual("false"u8)) return true;
        if (text[0] is not ((byte)'-' or (>= (byte)'0' and <= (byte)'9'))) return false;
        return IsJsonNumber(text);
    }

    /// <summary><c>-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?</c>, the whole text.</summary>
    private static bool IsJsonNumber(ReadOnlySpan<byte> t)
    {
        var i = 0;
        if (i < t.Length && t[i] == '-') i++;
        if (i >= t.Length) return false;
        if (t[i] == '0') i++;
        else if (t[i] is >= (byte)'1' and <= (byte)'9')
            while (i < t.Length && char.IsAsciiDigit((char)t[i])) i++;
        else return false;
        if (i < t.Length && t[i] == '.')
        {
            var digits = ++i;
            while (i < t.Length && char.IsAsciiDigit((char)t[i])) i++;
            if (i == digits) return false;
        }
        if (i < t.Length && t[i] is (byte)'e' or (byte)'E')
        {
            i++;
            if (i < t.Length && t[i] is (byte)'+' or (byte)'-') i++;
            var digits = i;
            while (i < t.Length && char.IsAsciiDigit((char)t[i])) i++;
            if (i == digits) return false;
        }
        return i == t.Length;
    }
}

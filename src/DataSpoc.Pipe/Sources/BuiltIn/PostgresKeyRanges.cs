using System.Globalization;
using System.Text.Json.Nodes;
using Npgsql;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// The key ranges of one table read in parts (<c>source.split</c>): N-1 boundaries in the split column's text form, so
/// part 0 is <c>key &lt; b0 OR key IS NULL</c>, part i is <c>b(i-1) &lt;= key &lt; b(i)</c> and the last part is
/// <c>key &gt;= b(N-2)</c>. Half-open ranges cover every row exactly once whatever the values (equal boundaries just
/// make empty parts), and every part casts the same boundary texts back to the column's type, so all workers of a split
/// run agree as long as they read one plan. An incremental table adds the same window to every part:
/// <c>since &lt;= replication key &lt;= until</c>, with <c>until</c> the key's maximum when the plan was made, which is the
/// bookmark the run saves. The plan is JSON so the workers of a split run can share it through the bucket.
/// </summary>
internal sealed record PostgresKeyRanges(
    string Stream, string Column, string ColumnType, int Parts, List<string> Bounds,
    string? ReplicationKey = null, string? ReplicationKeyType = null, string? Since = null, string? Until = null)
{
    private bool Incremental => ReplicationKey is not null;

    /// <summary>The WHERE condition of part <paramref name="part"/> over the table aliased <c>t</c>, and its parameters.</summary>
    public (string Sql, List<NpgsqlParameter> Parameters) Condition(int part)
    {
        if (part < 0 || part >= Parts) throw new ArgumentOutOfRangeException(nameof(part), $"part {part} is not in 0..{Parts - 1}");
        var parameters = new List<NpgsqlParameter>();
        string Bound(string name, string value)
        {
            parameters.Add(new NpgsqlParameter(name, value));
            return "@" + name;
        }
        var conditions = new List<string>();
        if (Incremental)
        {
            // No row in the window when the plan was made: the run reads nothing (the next run starts where this one did).
            if (Until is null) return ("FALSE", parameters);
            var k = "t." + PostgresColumn.Quote(ReplicationKey!);
            if (Since is not null) conditions.Add($"{k} >= {Bound("since", Since)}::{ReplicationKeyType}");
            conditions.Add($"{k} <= {Bound("until", Until)}::{ReplicationKeyType}");
        }
        var c = "t." + PostgresColumn.Quote(Column);
        if (Bounds.Count == 0)
        {
            // No non-null key (an empty table or window): part 0 takes every row, the others none.
            if (part > 0) return ("FALSE", parameters);
        }
        else
        {
            if (part == 0) conditions.Add($"({c} < {Bound("hi", Bounds[0])}::{ColumnType} OR {c} IS NULL)");
            else if (part == Parts - 1) conditions.Add($"{c} >= {Bound("lo", Bounds[part - 1])}::{ColumnType}");
            else conditions.Add($"{c} >= {Bound("lo", Bounds[part - 1])}::{ColumnType} AND {c} < {Bound("hi", Bounds[part])}::{ColumnType}");
        }
        return (conditions.Count == 0 ? "TRUE" : string.Join(" AND ", conditions), parameters);
    }

    /// <summary>
    /// The STATE bookmark after every part has been read: the window's upper end, or null to keep the saved one (not
    /// incremental, or nothing new).
    /// </summary>
    public JsonObject? Bookmark(bool integerKey) => Incremental && Until is not null
        ? new JsonObject
        {
            ["replication_key"] = ReplicationKey,
            ["replication_key_value"] = integerKey ? JsonValue.Create(long.Parse(Until, CultureInfo.InvariantCulture)) : JsonValue.Create(Until),
        }
        : null;

    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["stream"] = Stream,
            ["column"] = Column,
            ["column_type"] = ColumnType,
            ["parts"] = Parts,
            ["bounds"] = new JsonArray(Bounds.Select(b => (JsonNode?)JsonValue.Create(b)).ToArray()),
        };
        if (ReplicationKey is not null)
        {
            json["replication_key"] = ReplicationKey;
            json["replication_key_type"] = ReplicationKeyType;
            json["since"] = Since;
            json["until"] = Until;
        }
        return json;
    }

    public static PostgresKeyRanges FromJson(JsonObject json)
    {
        try
        {
            return new PostgresKeyRanges(
                (string)json["stream"]!, (string)json["column"]!, (string)json["column_type"]!, (int)json["parts"]!,
                json["bounds"]!.AsArray().Select(b => (string)b!).ToList(),
                (string?)json["replication_key"], (string?)json["replication_key_type"], (string?)json["since"], (string?)json["until"]);
        }
        catch (Exception e) when (e is InvalidOperationException or NullReferenceException or FormatException)
        {
            throw new TapException($"postgres tap: the split plan is damaged ({e.Message}): {json.ToJsonString()}", e);
        }
    }

    /// <summary>Whether a column's type can split a table (it must have a total order that survives a text round trip).</summary>
    public static string? Unsplittable(PostgresColumn column) => column.Kind switch
    {
        PostgresValueKind.RawJson or PostgresValueKind.Boolean or PostgresValueKind.Float4 or PostgresValueKind.Float8 =>
            $"its type {column.SqlType} cannot split a table (use an integer, timestamp, date, numeric, text or uuid column)",
        _ => null,
    };

    /// <summary>
    /// Plans the ranges of <paramref name="column"/> in <paramref name="parts"/> parts: integers, dates and timestamps split
    /// their min..max span evenly (two index lookups on an indexed key); other types split at quantiles
    /// (<c>percentile_disc</c>, one sort of the column), so skewed text or uuid keys still give even parts.
    /// </summary>
    public static async Task<PostgresKeyRanges> PlanAsync(NpgsqlConnection connection, PostgresTable table, PostgresColumn column, int parts,
        PostgresColumn? replicationKey, string? since, CancellationToken cancellationToken)
    {
        if (Unsplittable(column) is { } why)
            throw new TapException($"postgres tap: stream '{table.StreamId}': source.split column '{column.Name}': {why}");
        string? until = null;
        var window = "TRUE";
        var windowParameters = new List<(string, string)>();
        if (replicationKey is not null)
        {
            var k = "t." + PostgresColumn.Quote(replicationKey.Name);
            var sinceSql = since is null ? "TRUE" : $"{k} >= @since::{replicationKey.SqlType}";
            if (since is not null) windowParameters.Add(("since", since));
            until = await ScalarAsync<string?>(connection, $"SELECT max({k})::text FROM {table.QualifiedName} AS t WHERE {sinceSql}", windowParameters, table, cancellationToken).ConfigureAwait(false);
            if (until is null)
                return new PostgresKeyRanges(table.StreamId, column.Name, column.SqlType, parts, [], replicationKey.Name, replicationKey.SqlType, since, null);
            windowParameters.Add(("until", until));
            window = $"{sinceSql} AND {k} <= @until::{replicationKey.SqlType}";
        }
        var c = "t." + PostgresColumn.Quote(column.Name);
        var from = $"FROM {table.QualifiedName} AS t WHERE {window}";
        string sql = column.Kind switch
        {
            PostgresValueKind.Int16 or PostgresValueKind.Int32 or PostgresValueKind.Int64 =>
                $"SELECT array(SELECT (lo + floor((hi::numeric - lo + 1) * g / {parts}))::int8::text FROM generate_series(1, {parts - 1}) g) " +
                $"FROM (SELECT min({c}) AS lo, max({c}) AS hi {from}) m WHERE lo IS NOT NULL",
            // date - date is days and timestamp - timestamp an interval: both scale by g / N and add back to the minimum.
            PostgresValueKind.Date or PostgresValueKind.Timestamp =>
                $"SELECT array(SELECT (lo + (hi - lo) * g / {parts})::text FROM generate_series(1, {parts - 1}) g) " +
                $"FROM (SELECT min({c}) AS lo, max({c}) AS hi {from}) m WHERE lo IS NOT NULL",
            _ =>
                $"SELECT (percentile_disc(array(SELECT g::float8 / {parts} FROM generate_series(1, {parts - 1}) g)) WITHIN GROUP (ORDER BY {c}))::text[] " +
                $"{from} AND {c} IS NOT NULL HAVING count(*) > 0",
        };
        var bounds = parts == 1 ? null : await ScalarAsync<string[]?>(connection, sql, windowParameters, table, cancellationToken).ConfigureAwait(false);
        return new PostgresKeyRanges(table.StreamId, column.Name, column.SqlType, parts, bounds is null || bounds.Any(b => b is null) ? [] : [.. bounds],
            replicationKey?.Name, replicationKey?.SqlType, since, until);
    }

    private static async Task<T?> ScalarAsync<T>(NpgsqlConnection connection, string sql, List<(string Name, string Value)> parameters, PostgresTable table, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        try
        {
            var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return value is null or DBNull ? default : (T)value;
        }
        catch (PostgresException e)
        {
            throw new TapException($"postgres tap: stream '{table.StreamId}': cannot plan the key ranges of {table.Schema}.{table.Table}: {e.MessageText}", e);
        }
    }
}

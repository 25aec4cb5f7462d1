using System.Text.Json.Nodes;
using Npgsql;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>A table or view found by discovery; its stream id is <c>&lt;schema&gt;-&lt;table&gt;</c>, like the common Singer tap.</summary>
/// <param name="Schema">The table's schema.</param>
/// <param name="Table">Its name.</param>
/// <param name="IsView">A view or materialized view.</param>
/// <param name="Columns">Its columns, in order.</param>
/// <param name="KeyProperties">Its primary key's columns, in key order.</param>
/// <param name="IsPlainTable">
/// An ordinary table with no inheritance children or partitions: <c>COPY table (columns) TO</c> reads the same rows as
/// <c>COPY (SELECT …) TO</c> (which also reads children; views, partitioned and foreign tables only take that form).
/// </param>
internal sealed record PostgresTable(string Schema, string Table, bool IsView, List<PostgresColumn> Columns, List<string> KeyProperties, bool IsPlainTable = false)
{
    public string StreamId => $"{Schema}-{Table}";

    public string QualifiedName => $"{PostgresColumn.Quote(Schema)}.{PostgresColumn.Quote(Table)}";

    public JsonObject JsonSchema()
    {
        var properties = new JsonObject();
        foreach (var c in Columns) properties[c.Name] = c.Schema.DeepClone();
        return new JsonObject { ["type"] = "object", ["properties"] = properties };
    }
}

/// <summary>Lists tables, views and materialized views with their columns and primary keys from pg_catalog.</summary>
internal static class PostgresDiscovery
{
    private const string Query = """
        SELECT n.nspname, c.relname, c.relkind::text, a.attname, format_type(a.atttypid, a.atttypmod),
               bt.typname, CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END,
               et.typname, a.attnotnull,
               array_position(pk.indkey::int2[], a.attnum), c.relhassubclass, a.attndims, {0}
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        JOIN pg_type t ON t.oid = a.atttypid
        JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
        LEFT JOIN pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A'
        LEFT JOIN pg_index pk ON pk.indrelid = c.oid AND pk.indisprimary
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
          AND has_table_privilege(c.oid, 'SELECT')
          AND (cardinality(@schemas) = 0 OR n.nspname = ANY (@schemas))
        ORDER BY n.nspname, c.relname, a.attnum
        """;

    public static async Task<List<PostgresTable>> DiscoverAsync(NpgsqlConnection connection, IReadOnlyList<string> schemas, IReadOnlyList<string> filterTables, CancellationToken cancellationToken)
    {
        // Generated columns (pg_attribute.attgenerated) came with PostgreSQL 12.
        var generated = connection.PostgreSqlVersion.Major >= 12 ? "a.attgenerated <> ''" : "false";
        await using var command = new NpgsqlCommand(string.Format(System.Globalization.CultureInfo.InvariantCulture, Query, generated), connection);
        command.Parameters.AddWithValue("schemas", schemas.ToArray());
        var tables = new List<PostgresTable>();
        var keys = new Dictionary<PostgresTable, List<(int Position, string Name)>>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        PostgresTable? current = null;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var schema = reader.GetString(0);
            var table = reader.GetString(1);
            if (current is null || current.Schema != schema || current.Table != table)
            {
                // relkind is read as text: the connection knows only the built-in types, not "char" (PostgresTap.DataSourceFor).
                var kind = reader.GetString(2);
                current = new PostgresTable(schema, table, kind is "v" or "m", [], [], IsPlainTable: kind == "r" && !reader.GetBoolean(10));
                tables.Add(current);
                keys[current] = [];
            }
            var name = reader.GetString(3);
            current.Columns.Add(new PostgresColumn(name, reader.GetString(4), reader.GetString(5), reader.GetInt32(6),
                reader.IsDBNull(7) ? null : reader.GetString(7), reader.GetBoolean(8), reader.GetInt32(11), reader.GetBoolean(12)));
            if (!reader.IsDBNull(9)) keys[current].Add((reader.GetInt32(9), name));
        }
        foreach (var t in tables) t.KeyProperties.AddRange(keys[t].OrderBy(k => k.Position).Select(k => k.Name));
        if (filterTables.Count > 0) tables = tables.Where(t => filterTables.Any(f => f == t.Table || f == $"{t.Schema}.{t.Table}" || f == t.StreamId)).ToList();
        RefuseSharedStreamIds(tables);
        return tables;
    }

    /// <summary>
    /// Two tables whose <c>&lt;schema&gt;-&lt;table&gt;</c> ids are equal (<c>"a-b".c</c> and <c>a."b-c"</c> are both
    /// <c>a-b-c</c>) would land as one lake table, their rows mixed (and, merged, one replacing the other): refused before
    /// anything is read. A stream id cannot tell them apart, so the way out is to leave one out by its schema-qualified
    /// name (which can) or its schema.
    /// </summary>
    private static void RefuseSharedStreamIds(List<PostgresTable> tables)
    {
        var shared = tables.GroupBy(t => t.StreamId, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (shared is null) return;
        var names = shared.Select(t => t.QualifiedName).ToList();
        throw new TapException($"postgres tap: tables {string.Join(" and ", names)} would both be stream '{shared.Key}' and land as one table: " +
            $"keep one of them with filter_tables (its schema.table name, e.g. [\"{shared.First().Schema}.{shared.First().Table}\"]) or schemas, " +
            "or sync the other through a view of another name");
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// Syncs one table through a server-side cursor inside a read-only, repeatable-read transaction.
/// Incremental: <c>WHERE key &gt;= bookmark ORDER BY key</c>; the bookmark (the key's text form, cast back on the
/// next run) advances after every batch and a STATE is written. Full table: all rows, then ACTIVATE_VERSION.
/// One part of a split table (<see cref="ReadPartAsync"/>) reads only its key range, in no order, and writes RECORDs only:
/// the caller writes the SCHEMA before and the STATE or ACTIVATE_VERSION after every part.
/// </summary>
internal sealed class PostgresTableSync(NpgsqlConnection connection, PostgresTable table, PostgresColumn? key, int batchSize,
    SingerWriter writer, JsonObject bookmarks, JsonObject state)
{
    public async Task RunAsync(TimeProvider time, CancellationToken cancellationToken)
    {
        var stream = table.StreamId;
        writer.WriteSchema(stream, table.JsonSchema(), table.KeyProperties, key is null ? null : [key.Name]);
        var since = key is null ? null : Bookmark(bookmarks, stream, key);

        var sql = SelectSql(table, key);
        if (key is not null)
        {
            if (since is not null) sql += $" WHERE t.{PostgresColumn.Quote(key.Name)} >= @since::{key.SqlType}";
            sql += $" ORDER BY t.{PostgresColumn.Quote(key.Name)} ASC NULLS LAST";
        }
        var parameters = new List<NpgsqlParameter>();
        if (since is not null) parameters.Add(new NpgsqlParameter("since", BookmarkText(since)));
        await ReadAsync(sql, parameters, key, cancellationToken).ConfigureAwait(false);
        if (key is null) writer.WriteActivateVersion(stream, time.GetUtcNow().ToUnixTimeMilliseconds());
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads part <paramref name="part"/> of <paramref name="ranges"/> (RECORDs only) on <paramref name="connection"/>.</summary>
    public static async Task ReadPartAsync(NpgsqlConnection connection, PostgresTable table, PostgresKeyRanges ranges, int part, int batchSize,
        SingerWriter writer, CancellationToken cancellationToken)
    {
        var (condition, parameters) = ranges.Condition(part);
        // Names the part in pg_stat_activity, so a DBA (and a test) sees which range a session reads.
        await using (var name = new NpgsqlCommand("SELECT set_config('application_name', @name, false)", connection))
        {
            name.Parameters.AddWithValue("name", $"dataspoc-pipe part {part}/{ranges.Parts}");
            await name.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }
        var sync = new PostgresTableSync(connection, table, null, batchSize, writer, new JsonObject(), new JsonObject());
        await sync.ReadAsync(SelectSql(table, null) + " WHERE " + condition, parameters, null, cancellationToken).ConfigureAwait(false);
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The saved bookmark of <paramref name="stream"/> when it is for <paramref name="key"/>, else null (read from the start).</summary>
    public static JsonNode? Bookmark(JsonObject bookmarks, string stream, PostgresColumn key)
    {
        var bookmark = bookmarks[stream] as JsonObject;
        return bookmark?["replication_key"]?.GetValue<string>() == key.Name ? bookmark["replication_key_value"] : null;
    }

    /// <summary>A bookmark as the text that is cast back to the key's type.</summary>
    public static string BookmarkText(JsonNode since) => since.GetValueKind() == JsonValueKind.String ? since.GetValue<string>() : since.ToJsonString();

    private static string SelectSql(PostgresTable table, PostgresColumn? key)
    {
        var sql = "SELECT " + string.Join(", ", table.Columns.Select(c => c.SelectExpression));
        if (key is not null) sql += $", t.{PostgresColumn.Quote(key.Name)}::text AS dataspoc_bookmark";
        // Qualified with the table alias so WHERE/ORDER BY use the column itself, never a same-named ::text output column.
        return sql + $" FROM {table.QualifiedName} AS t";
    }

    /// <summary>Runs <paramref name="sql"/> through a cursor; with a <paramref name="bookmarkKey"/>, writes a STATE after every batch.</summary>
    private async Task ReadAsync(string sql, List<NpgsqlParameter> parameters, PostgresColumn? bookmarkKey, CancellationToken cancellationToken)
    {
        var key = bookmarkKey;
        var stream = table.StreamId;
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        await using (var declare = new NpgsqlCommand($"DECLARE dataspoc_cursor NO SCROLL CURSOR FOR {sql}", connection, transaction))
        {
            foreach (var parameter in parameters) declare.Parameters.Add(parameter);
            await Run(declare, "declare a cursor", cancellationToken).ConfigureAwait(false);
        }
        var streamName = JsonEncodedText.Encode(stream);
        var keyOrdinal = table.Columns.Count;
        var isIntegerKey = key?.Kind is PostgresValueKind.Int16 or PostgresValueKind.Int32 or PostgresValueKind.Int64;
        await using var fetch = new NpgsqlCommand($"FETCH FORWARD {batchSize} FROM dataspoc_cursor", connection, transaction);
        while (true)
        {
            var rows = 0;
            string? lastKey = null;
            NpgsqlDataReader reader;
            try
            {
                reader = await fetch.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException e)
            {
                throw Failed("read", e);
            }
            await using (reader)
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var json = writer.BeginRecord(streamName);
                    for (var i = 0; i < table.Columns.Count; i++)
                    {
                        try
                        {
                            table.Columns[i].Write(json, reader, i);
                        }
                        catch (Exception e) when (e is InvalidCastException or OverflowException or FormatException or JsonException or ArgumentException)
                        {
                            throw new TapException($"postgres tap: stream '{stream}' column '{table.Columns[i].Name}' ({table.Columns[i].SqlType}): cannot convert a value: {e.Message}", e);
                        }
                    }
                    writer.EndRecord();
                    if (key is not null && !reader.IsDBNull(keyOrdinal)) lastKey = reader.GetString(keyOrdinal);
                    rows++;
                    await writer.FlushIfFullAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            if (key is not null && lastKey is not null)
            {
                bookmarks[stream] = new JsonObject
                {
                    ["replication_key"] = key.Name,
                    ["replication_key_value"] = isIntegerKey ? JsonValue.Create(long.Parse(lastKey, System.Globalization.CultureInfo.InvariantCulture)) : JsonValue.Create(lastKey),
                };
                writer.WriteState(state);
            }
            if (rows < batchSize) break;
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task Run(NpgsqlCommand command, string what, CancellationToken cancellationToken)
    {
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException e)
        {
            throw Failed(what, e);
        }
    }

    private TapException Failed(string what, PostgresException e)
        => new($"postgres tap: stream '{table.StreamId}': cannot {what} {table.Schema}.{table.Table}: {e.MessageText}", e);
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// Syncs one table to a <see cref="RecordSink"/> as typed values.
/// Full table: one binary <c>COPY (SELECT …) TO STDOUT</c> (a single statement, so one snapshot, and no round trip per
/// batch), then ACTIVATE_VERSION. Incremental: a server-side cursor inside a repeatable-read transaction,
/// <c>WHERE key &gt;= bookmark ORDER BY key</c>; the bookmark (the key's text form, cast back on the next run) advances
/// after every batch and a STATE is written. One part of a split table (<see cref="ReadPartAsync"/>) reads only its key
/// range through a cursor (its bounds are bind parameters, which COPY cannot take), in no order, and writes rows only:
/// the caller writes the SCHEMA before and the STATE or ACTIVATE_VERSION after every part.
/// The full table's COPY goes through <paramref name="libpq"/> when it has a connection (libpq is loaded), else through
/// Npgsql's <paramref name="connection"/>; either runs the COPY alone, so the snapshot is the same.
/// </summary>
internal sealed class PostgresTableSync(NpgsqlConnection connection, PostgresTable table, PostgresColumn? key, int batchSize,
    RecordSink sink, JsonObject bookmarks, JsonObject state, LibpqCopyConnection? libpq = null, PostgresInfinities? infinities = null)
{
    /// <summary>The dates and timestamps that were ±infinity, for the run log (shared by the parts of a split table).</summary>
    private readonly PostgresInfinities _infinities = infinities ?? new PostgresInfinities();

    public async Task RunAsync(TimeProvider time, CancellationToken cancellationToken)
    {
        var stream = table.StreamId;
        if (key is null)
        {
            // The server starts producing rows while the sink readies the stream for them (SCHEMA).
            await using var copy = await StartCopyAsync(cancellationToken).ConfigureAwait(false);
            var copied = sink.WriteSchema(stream, table.JsonSchema(), table.KeyProperties);
            await CopyAsync(copy, copied, cancellationToken).ConfigureAwait(false);
            _infinities.WriteNotices(sink, stream);
            sink.WriteActivateVersion(stream, time.GetUtcNow().ToUnixTimeMilliseconds());
        }
        else
        {
            var rows = sink.WriteSchema(stream, table.JsonSchema(), table.KeyProperties, [key.Name]);
            var since = Bookmark(bookmarks, stream, key);
            var sql = SelectSql(table, key);
            if (since is not null) sql += " WHERE " + SinceCondition(key);
            sql += $" ORDER BY t.{PostgresColumn.Quote(key.Name)} ASC NULLS LAST";
            var parameters = new List<NpgsqlParameter>();
            if (since is not null) parameters.Add(new NpgsqlParameter("since", BookmarkText(since)));
            var sinceText = since is null ? null : BookmarkText(since);
            var (nullKeys, atBookmark) = await ReadAsync(sql, parameters, rows, key, turn: null, cancellationToken, sinceText).ConfigureAwait(false);
            _infinities.WriteNotices(sink, stream);
            await NoteNullKeysAsync(key, since is null, nullKeys, cancellationToken).ConfigureAwait(false);
            NoteRowsReadAgain(key, sinceText, atBookmark);
        }
        await sink.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads part <paramref name="part"/> of <paramref name="ranges"/> (rows only) on <paramref name="connection"/> into
    /// <paramref name="rows"/>. Parts read in parallel share one sink: each takes <paramref name="turn"/> while it hands a
    /// batch to the sink, so the sink sees one caller at a time. Infinite dates are counted in <paramref name="infinities"/>,
    /// which the caller writes to the run log after every part.
    /// </summary>
    public static async Task ReadPartAsync(NpgsqlConnection connection, PostgresTable table, PostgresKeyRanges ranges, int part, int batchSize,
        RecordSink sink, RowWriter rows, SemaphoreSlim? turn, PostgresInfinities infinities, CancellationToken cancellationToken)
    {
        var (condition, parameters) = ranges.Condition(part);
        // Names the part in pg_stat_activity, so a DBA (and a test) sees which range a session reads.
        await using (var name = new NpgsqlCommand("SELECT set_config('application_name', @name, false)", connection))
        {
            name.Parameters.AddWithValue("name", $"dataspoc-pipe part {part}/{ranges.Parts}");
            await name.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }
        var sync = new PostgresTableSync(connection, table, null, batchSize, sink, new JsonObject(), new JsonObject(), infinities: infinities);
        await sync.ReadAsync(SelectSql(table, null) + " WHERE " + condition, parameters, rows, null, turn, cancellationToken, sinceText: null).ConfigureAwait(false);
    }

    /// <summary>
    /// Says in the run log when rows with a NULL replication key exist: a first run reads them (they sort last), but an
    /// incremental run reads <c>key &gt;= bookmark</c>, which no NULL satisfies, so rows inserted or updated with a NULL key
    /// later never land (Singer's semantics, and tap-postgres's). Later runs cannot count them without scanning the
    /// table: they ask PostgreSQL's statistics (<c>pg_stats.null_frac</c>, as of the table's last ANALYZE) instead.
    /// </summary>
    private async Task NoteNullKeysAsync(PostgresColumn key, bool firstRun, long nullKeysRead, CancellationToken cancellationToken)
    {
        const string why = "incremental runs read rows whose key is >= the bookmark, which a NULL never is, so rows inserted or updated " +
            "with a NULL key will not land; give the column a NOT NULL default, pick another replication key, or run --full now and then";
        if (key.NotNull) return;
        if (firstRun)
        {
            if (nullKeysRead > 0)
                sink.WriteNotice($"stream '{table.StreamId}': {nullKeysRead} row(s) have a NULL replication key '{key.Name}': this first run landed them, but {why}");
            return;
        }
        await using var stats = new NpgsqlCommand("SELECT null_frac FROM pg_stats WHERE schemaname = @schema AND tablename = @table AND attname = @column", connection);
        stats.Parameters.AddWithValue("schema", table.Schema);
        stats.Parameters.AddWithValue("table", table.Table);
        stats.Parameters.AddWithValue("column", key.Name);
        // Statistics are a hint: a view has none, and a server that refuses the query must not fail a run that read its rows.
        float share;
        try
        {
            if (await stats.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not float f) return;
            share = f;
        }
        catch (PostgresException)
        {
            return;
        }
        if (share > 0)
            sink.WriteNotice($"stream '{table.StreamId}': PostgreSQL's statistics say {share * 100:0.##}% of the rows have a NULL replication key " +
                $"'{key.Name}': {why}");
    }

    /// <summary>
    /// Says in the run log how many rows an incremental run read again because their key equals the bookmark: it reads
    /// <c>key &gt;= bookmark</c> (Singer's semantics: rows that share the last key value, or came in with it after the last
    /// run, are not missed), so an appended table (the default write mode) holds those rows once more after every run.
    /// </summary>
    private void NoteRowsReadAgain(PostgresColumn key, string? sinceText, long atBookmark)
    {
        if (sinceText is null || atBookmark == 0 || sink.MergesByKey || table.KeyProperties.Count == 0) return;
        sink.WriteNotice($"stream '{table.StreamId}': {atBookmark} row(s) whose replication key '{key.Name}' equals the bookmark ({sinceText}) " +
            "were read again (incremental runs read rows whose key is >= the bookmark, so none that share it is missed): an appended table " +
            "holds them once more after every run; write_mode: merge replaces them by the table's key instead");
    }

    /// <summary>The saved bookmark of <paramref name="stream"/> when it is for <paramref name="key"/>, else null (read from the start).</summary>
    public static JsonNode? Bookmark(JsonObject bookmarks, string stream, PostgresColumn key)
    {
        var bookmark = bookmarks[stream] as JsonObject;
        return bookmark?["replication_key"]?.GetValue<string>() == key.Name ? bookmark["replication_key_value"] : null;
    }

    /// <summary>A bookmark as the text that is cast back to the key's type.</summary>
    public static string BookmarkText(JsonNode since) => since.GetValueKind() == JsonValueKind.String ? since.GetValue<string>() : since.ToJsonString();

    /// <summary>The rows an incremental run reads: its key at or past the bookmark (parameter <c>@since</c>, the bookmark's text).</summary>
    private static string SinceCondition(PostgresColumn key) => $"t.{PostgresColumn.Quote(key.Name)} >= @since::{key.SqlType}";

    /// <summary>
    /// <paramref name="table"/> with each array column's dimensions as the rows this sync reads hold them (all of them, or
    /// those at or past the bookmark of <paramref name="key"/>): PostgreSQL does not enforce a column's declared dimensions
    /// (<c>pg_attribute.attndims</c>), and pg_dump, <c>CREATE TABLE AS</c> and <c>LIKE</c> record 0 or 1 for an <c>int[][]</c>,
    /// so one query before the rows are read measures them. A column whose rows hold arrays of different dimensions cannot
    /// land as lists of one depth: refused naming a row of the fewer by its primary key. A column with no non-empty array
    /// keeps its declared dimensions.
    /// </summary>
    public static async Task<PostgresTable> WithArrayDimensionsAsync(NpgsqlConnection connection, PostgresTable table, PostgresColumn? key, JsonObject bookmarks,
        CancellationToken cancellationToken)
    {
        var arrays = table.Columns.Where(c => c.IsArray).ToList();
        if (arrays.Count == 0) return table;
        var since = key is null ? null : Bookmark(bookmarks, table.StreamId, key);
        var rows = $" FROM {table.QualifiedName} AS t" + (since is null ? "" : " WHERE " + SinceCondition(key!));
        NpgsqlCommand Command(string sql)
        {
            var command = new NpgsqlCommand(sql, connection);
            if (since is not null) command.Parameters.AddWithValue("since", BookmarkText(since));
            return command;
        }
        var dimensions = new List<(int Min, int Max)?>();
        await using (var measure = Command("SELECT " + string.Join(", ", arrays.Select(c => $"min(array_ndims(t.{PostgresColumn.Quote(c.Name)})), max(array_ndims(t.{PostgresColumn.Quote(c.Name)}))")) + rows))
        {
            await using var reader = await Measured(measure.ExecuteReaderAsync(cancellationToken)).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < arrays.Count; i++)
                dimensions.Add(reader.IsDBNull(2 * i) ? null : (reader.GetInt32(2 * i), reader.GetInt32(2 * i + 1)));
        }
        for (var i = 0; i < arrays.Count; i++)
        {
            if (dimensions[i] is not { } d || d.Min == d.Max) continue;
            var column = arrays[i];
            var fewer = $"array_ndims({PostgresColumn.Quote(column.Name)}) = {d.Min}";
            var fewerInRows = $"array_ndims(t.{PostgresColumn.Quote(column.Name)}) = {d.Min}";
            var row = "";
            if (table.KeyProperties.Count > 0)
            {
                await using var find = Command("SELECT " + string.Join(" || ', ' || ", table.KeyProperties.Select(k => $"{Literal(k + " = ")} || t.{PostgresColumn.Quote(k)}::text")) + rows +
                    (since is null ? " WHERE " : " AND ") + fewerInRows + " LIMIT 1");
                row = $" (the row {await Measured(find.ExecuteScalarAsync(cancellationToken)).ConfigureAwait(false)} holds {d.Min})";
            }
            throw new TapException($"postgres tap: stream '{table.StreamId}' column '{column.Name}' ({column.SqlType}): its rows hold arrays of {d.Min} and of {d.Max} dimensions{row}, " +
                $"but a column lands as lists of one depth: sync a view that selects the rows of one (WHERE {fewer}) or {PostgresColumn.Quote(column.Name)}::text");
        }
        var measured = table.Columns.Select(c => arrays.IndexOf(c) is var i && i >= 0 && dimensions[i] is { } d ? c.WithArrayDimensions(d.Max) : c).ToList();
        return table with { Columns = measured };

        static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";

        async Task<T> Measured<T>(Task<T> query)
        {
            try
            {
                return await query.ConfigureAwait(false);
            }
            catch (PostgresException e)
            {
                throw Failed(table, "read", e.MessageText, e);
            }
        }
    }

    private static string SelectSql(PostgresTable table, PostgresColumn? key)
    {
        var sql = "SELECT " + string.Join(", ", table.Columns.Select(c => c.SelectExpression));
        if (key is not null) sql += $", t.{PostgresColumn.Quote(key.Name)}::text AS dataspoc_bookmark";
        // Qualified with the table alias so WHERE/ORDER BY use the column itself, never a same-named ::text output column.
        return sql + $" FROM {table.QualifiedName} AS t";
    }

    /// <summary>
    /// What the full table's COPY reads: a plain table's own columns when each is read as it is (the server then copies
    /// the table without a query plan: ~7% less of its time on an 8-column table, bench/README.md), else the SELECT
    /// (also for a generated column, which <c>COPY table (columns)</c> refuses).
    /// </summary>
    internal static string CopySourceOf(PostgresTable table) => table.IsPlainTable && table.Columns.All(c => c.SelectExpression == PostgresColumn.Quote(c.Name) && !c.IsGenerated)
        ? $"{table.QualifiedName} ({string.Join(", ", table.Columns.Select(c => PostgresColumn.Quote(c.Name)))})"
        : $"({SelectSql(table, null)})";

    /// <summary>Starts the binary COPY of the whole table (one statement, so one snapshot).</summary>
    private async Task<PostgresBinaryCopy> StartCopyAsync(CancellationToken cancellationToken)
    {
        var sql = $"COPY {CopySourceOf(table)} TO STDOUT (FORMAT BINARY)";
        try
        {
            return libpq?.Get(table.StreamId) is { } native
                ? await PostgresBinaryCopy.StartLibpqAsync(native, sql, table.Columns.Count, cancellationToken).ConfigureAwait(false)
                : await PostgresBinaryCopy.StartAsync(connection, sql, table.Columns.Count, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (ReadFailure(e) is { } failure)
        {
            throw failure;
        }
    }

    /// <summary>
    /// Reads the COPY's rows, each decoded from the bytes the server sent: straight into the stream's column buffers when
    /// the sink offers them (<see cref="RowWriter.Direct"/>), else value by value.
    /// </summary>
    private async Task CopyAsync(PostgresBinaryCopy copy, RowWriter rows, CancellationToken cancellationToken)
    {
        var direct = table.Columns.All(c => c.StoresDirectly) ? rows.Direct : null;
        try
        {
            await copy.ReadAsync(
                fields =>
                {
                    if (direct is not null && TryWriteDirect(direct, fields)) return;
                    var values = new CopyRowValues(fields);
                    WriteRow(ref values, rows);
                },
                () => sink.FlushIfFullAsync(cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (ReadFailure(e) is { } failure)
        {
            throw failure;
        }
    }

    /// <summary>
    /// Runs <paramref name="sql"/> through a cursor; with a <paramref name="bookmarkKey"/>, writes a STATE after every
    /// batch. With a <paramref name="turn"/>, each batch is handed to the sink while holding it.
    /// </summary>
    /// <returns>The rows whose bookmark key was NULL, and those whose key's text is <paramref name="sinceText"/> (the bookmark the run started from).</returns>
    private async Task<(long NullKeys, long AtBookmark)> ReadAsync(string sql, List<NpgsqlParameter> parameters, RowWriter rows, PostgresColumn? bookmarkKey, SemaphoreSlim? turn,
        CancellationToken cancellationToken, string? sinceText)
    {
        long nullKeys = 0, atBookmark = 0;
        // Rows come in key order, so those at the bookmark come first: compared only until a greater key.
        var pastBookmark = sinceText is null;
        var key = bookmarkKey;
        var stream = table.StreamId;
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        await using (var declare = new NpgsqlCommand($"DECLARE dataspoc_cursor NO SCROLL CURSOR FOR {sql}", connection, transaction))
        {
            foreach (var parameter in parameters) declare.Parameters.Add(parameter);
            await Run(declare, "declare a cursor", cancellationToken).ConfigureAwait(false);
        }
        var isIntegerKey = key?.Kind is PostgresValueKind.Int16 or PostgresValueKind.Int32 or PostgresValueKind.Int64;
        await using var fetch = new NpgsqlCommand($"FETCH FORWARD {batchSize} FROM dataspoc_cursor", connection, transaction);
        while (true)
        {
            var count = 0;
            string? lastKey = null;
            NpgsqlDataReader reader;
            try
            {
                reader = await fetch.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (ReadFailure(e) is { } failure)
            {
                throw failure;
            }
            await using (reader)
            {
                if (turn is not null) await turn.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        var values = new CursorValues(reader);
                        WriteRow(ref values, rows);
                        // The bookmark column follows the table's columns.
                        if (key is not null)
                        {
                            if (values.NextIsNull()) nullKeys++;
                            else
                            {
                                values.NextText(NpgsqlTypes.NpgsqlDbType.Text, out lastKey);
                                if (!pastBookmark && !(pastBookmark = lastKey != sinceText)) atBookmark++;
                            }
                        }
                        count++;
                        await sink.FlushIfFullAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (Exception e) when (ReadFailure(e) is { } failure)
                {
                    throw failure;
                }
                finally
                {
                    turn?.Release();
                }
            }
            if (key is not null && lastKey is not null)
            {
                bookmarks[stream] = new JsonObject
                {
                    ["replication_key"] = key.Name,
                    ["replication_key_value"] = isIntegerKey ? JsonValue.Create(long.Parse(lastKey, System.Globalization.CultureInfo.InvariantCulture)) : JsonValue.Create(lastKey),
                };
                sink.WriteState(state);
            }
            if (count < batchSize) break;
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (nullKeys, atBookmark);
    }

    /// <summary>
    /// Stores a COPY row straight into the column buffers; false (nothing stored) when a value is declined or cannot be
    /// read: the row then goes value by value, which stores it the engine's way or fails naming the column.
    /// </summary>
    private bool TryWriteDirect(DirectRows direct, ReadOnlySpan<byte> fields)
    {
        var columns = table.Columns;
        var buffers = direct.BeginRow();
        var values = new CopyRowValues(fields);
        try
        {
            for (var i = 0; i < columns.Count; i++)
            {
                var target = new LeafBufferTarget(buffers[i]);
                // No tally: a row with an infinite date is written again by WriteRow, which counts it once.
                if (columns[i].Write(ref values, ref target, infinities: null)) continue;
                direct.AbandonRow();
                return false;
            }
        }
        catch (Exception e) when (IsValueError(e))
        {
            direct.AbandonRow();
            return false;
        }
        direct.EndRow();
        return true;
    }

    private static bool IsValueError(Exception e) =>
        e is InvalidCastException or OverflowException or FormatException or JsonException or ArgumentException or NotSupportedException;

    /// <summary>Writes the table's columns of the current row; a value that cannot be read fails naming its column and type.</summary>
    private void WriteRow<TValues>(ref TValues values, RowWriter rows) where TValues : struct, IPostgresValues, allows ref struct
    {
        var columns = table.Columns;
        var i = 0;
        try
        {
            rows.BeginRow();
            for (; i < columns.Count; i++) columns[i].Write(ref values, rows, i, _infinities);
            rows.EndRow();
        }
        catch (Exception e) when (IsValueError(e))
        {
            var column = columns[Math.Min(i, columns.Count - 1)];
            throw new TapException($"postgres tap: stream '{table.StreamId}' column '{column.Name}' ({column.SqlType}): cannot convert a value{RowNamed(ref values)}: {e.Message}{column.UnconvertibleHint}", e);
        }
    }

    /// <summary>
    /// The failed row by its primary key (<c>" in the row id = 7"</c>) or, when a cursor has read past a key column, by
    /// the replication key; empty when neither can be read.
    /// </summary>
    private string RowNamed<TValues>(ref TValues values) where TValues : struct, IPostgresValues, allows ref struct
    {
        var parts = new List<string>();
        foreach (var name in table.KeyProperties)
        {
            var index = table.Columns.FindIndex(c => c.Name == name);
            if (index < 0 || values.DescribeField(index, table.Columns[index].Kind) is not { } text) break;
            parts.Add($"{name} = {text}");
        }
        if (parts.Count != table.KeyProperties.Count || parts.Count == 0)
        {
            parts.Clear();
            // The cursor's last field is the replication key as text (SelectSql).
            if (key is not null && values.DescribeField(table.Columns.Count, PostgresValueKind.Text) is { } bookmark) parts.Add($"{key.Name} = {bookmark}");
        }
        return parts.Count == 0 ? "" : " in the row " + string.Join(", ", parts);
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

    private TapException Failed(string what, PostgresException e) => Failed(what, e.MessageText, e);

    /// <summary>What a failure while reading a table's rows tells the user; null for one that is not the server's or the connection's.</summary>
    private TapException? ReadFailure(Exception e) => e switch
    {
        PostgresException server => Failed("read", server),
        LibpqException libpq => Failed("read", libpq),
        // The connection broke (the server process ended, the network): its cause is the message.
        NpgsqlException broken => Failed("read", "the connection broke: " + (broken.InnerException?.Message ?? broken.Message), broken),
        _ => null,
    };

    private TapException Failed(string what, LibpqException e) => Failed(what, e.Message, e);

    private TapException Failed(string what, string message, Exception e) => Failed(table, what, message, e);

    private static TapException Failed(PostgresTable table, string what, string message, Exception e)
        => new($"postgres tap: stream '{table.StreamId}': cannot {what} {table.Schema}.{table.Table}: {message}", e);
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// The built-in <c>postgres</c> tap. Config: <c>host</c>, <c>port</c>, <c>user</c>, <c>password</c> (may be <c>${VAR}</c>),
/// <c>dbname</c>, <c>sslmode</c> (disable|allow|prefer|require|verify-ca|verify-full), <c>schemas</c>, <c>filter_tables</c>
/// (<c>table</c>, <c>schema.table</c> or <c>schema-table</c>), <c>replication_keys</c> (<c>{"public-orders": "updated_at"}</c>),
/// <c>batch_size</c>. A stream is incremental when a replication key is set (catalog metadata <c>replication-key</c> /
/// <c>replication-method: INCREMENTAL</c>, or config); rows with key &gt;= the bookmark are read in key order and a STATE
/// follows every batch. Other streams are full-table and end with ACTIVATE_VERSION (the table is replaced).
/// Rows are fetched through a server-side cursor, one batch at a time, so memory stays bounded.
/// </summary>
public sealed class PostgresTap(TimeProvider? time = null) : IBuiltInTap
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public string Name => "postgres";

    public async Task DiscoverAsync(JsonObject config, Stream output, CancellationToken cancellationToken)
    {
        var settings = Settings.From(config);
        await using var connection = await OpenAsync(settings, cancellationToken).ConfigureAwait(false);
        var tables = await PostgresDiscovery.DiscoverAsync(connection, settings.Schemas, settings.FilterTables, cancellationToken).ConfigureAwait(false);
        var entries = tables.Select(t =>
        {
            var key = settings.ReplicationKey(t);
            var metadata = new JsonObject
            {
                ["schema-name"] = t.Schema,
                ["table-name"] = t.Table,
                ["is-view"] = t.IsView,
                ["replication-method"] = key is null ? "FULL_TABLE" : "INCREMENTAL",
                ["valid-replication-keys"] = new JsonArray(t.Columns.Where(c => c.Kind is not (PostgresValueKind.RawJson or PostgresValueKind.Bytea or PostgresValueKind.Boolean)).Select(c => (JsonNode?)c.Name).ToArray()),
            };
            if (key is not null) metadata["replication-key"] = key;
            var columns = t.Columns.ToDictionary(c => c.Name, c => new JsonObject { ["sql-datatype"] = c.SqlType });
            return TapCatalog.Entry(t.StreamId, t.StreamId, t.JsonSchema(), t.KeyProperties, metadata, columns);
        });
        await TapCatalog.WriteAsync(entries.ToList(), output, cancellationToken).ConfigureAwait(false);
    }

    public async Task SyncAsync(JsonObject config, JsonObject? state, JsonObject? catalog, Stream output, CancellationToken cancellationToken)
    {
        var settings = Settings.From(config);
        var selection = new TapCatalog(catalog);
        var bookmarks = state?.DeepClone().AsObject() ?? new JsonObject();
        if (bookmarks["bookmarks"] is not JsonObject) bookmarks["bookmarks"] = new JsonObject();
        var writer = new SingerWriter(output);
        await using var connection = await OpenAsync(settings, cancellationToken).ConfigureAwait(false);
        var tables = await PostgresDiscovery.DiscoverAsync(connection, settings.Schemas, settings.FilterTables, cancellationToken).ConfigureAwait(false);
        foreach (var table in tables)
        {
            if (!selection.IsSelected(table.StreamId)) continue;
            var method = selection.Metadata(table.StreamId, "replication-method");
            var key = selection.Metadata(table.StreamId, "replication-key") ?? settings.ReplicationKey(table);
            if (method is "LOG_BASED")
                throw new TapException($"{Name} tap: stream '{table.StreamId}': LOG_BASED replication is not supported; use INCREMENTAL with a replication key, or FULL_TABLE");
            if (method is "FULL_TABLE") key = null;
            else if (method is "INCREMENTAL" && key is null)
                throw new TapException($"{Name} tap: stream '{table.StreamId}' is INCREMENTAL but has no replication key (set metadata 'replication-key' or config replication_keys)");
            var keyColumn = key is null ? null : table.Columns.FirstOrDefault(c => c.Name == key)
                ?? throw new TapException($"{Name} tap: stream '{table.StreamId}': replication key '{key}' is not a column of {table.Schema}.{table.Table}");
            await new PostgresTableSync(connection, table, keyColumn, settings.BatchSize, writer, bookmarks["bookmarks"]!.AsObject(), bookmarks)
                .RunAsync(_time, cancellationToken).ConfigureAwait(false);
        }
        writer.WriteState(bookmarks);
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<NpgsqlConnection> OpenAsync(Settings settings, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(settings.ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            // Text forms of timestamps (bookmarks) are then independent of the server's time zone.
            await using var command = new NpgsqlCommand("SET TIME ZONE 'UTC'", connection);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch (Exception e) when (e is NpgsqlException or PostgresException or TimeoutException or System.Net.Sockets.SocketException)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new TapException($"{Name} tap: cannot connect to {settings.Where}: {e.Message}", e);
        }
    }

    private sealed record Settings(string ConnectionString, string Where, List<string> Schemas, List<string> FilterTables, Dictionary<string, string> ReplicationKeys, int BatchSize)
    {
        public string? ReplicationKey(PostgresTable t)
            => ReplicationKeys.TryGetValue(t.StreamId, out var k) || ReplicationKeys.TryGetValue($"{t.Schema}.{t.Table}", out k) || ReplicationKeys.TryGetValue(t.Table, out k) ? k : null;

        public static Settings From(JsonObject json)
        {
            const string tap = "postgres";
            var config = new TapConfig(tap, json);
            var host = config.String("host") ?? "localhost";
            var port = config.Int("port") ?? 5432;
            var database = config.String("dbname") ?? config.String("database") ?? throw new TapException($"{tap} tap: config key 'dbname' is required");
            var builder = new NpgsqlConnectionStringBuilder
            {
                Host = host,
                Port = port,
                Database = database,
                Username = config.String("user") ?? config.String("username") ?? throw new TapException($"{tap} tap: config key 'user' is required"),
                Password = config.String("password"),
                ApplicationName = "dataspoc-pipe",
                // Large values stream through the cursor; no client-side buffering of whole result sets.
                CommandTimeout = 0,
            };
            if (config.String("sslmode") is { } sslMode)
            {
                if (!Enum.TryParse<SslMode>(sslMode.Replace("-", "", StringComparison.Ordinal), ignoreCase: true, out var mode))
                    throw config.Wrong("sslmode", "one of disable, allow, prefer, require, verify-ca, verify-full");
                builder.SslMode = mode;
            }
            var keys = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (stream, value) in config.Object("replication_keys") ?? [])
            {
                if (value is not JsonValue v || v.GetValueKind() != JsonValueKind.String) throw config.Wrong($"replication_keys.{stream}", "a column name");
                keys[stream] = v.GetValue<string>();
            }
            var batch = config.Int("batch_size") ?? 10_000;
            if (batch < 1) throw config.Wrong("batch_size", "at least 1");
            return new Settings(builder.ConnectionString, $"{host}:{port}/{database}", config.Strings("schemas"), config.Strings("filter_tables"), keys, batch);
        }
    }
}

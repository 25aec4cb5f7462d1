using System.Collections.Concurrent;
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
/// Rows go to a <see cref="RecordSink"/> as typed values (<see cref="PostgresTableSync"/>): a full table through one
/// binary COPY, an incremental one through a server-side cursor, one batch at a time, so memory stays bounded.
/// The COPY goes through libpq when it loads (<see cref="Libpq"/>: much less CPU per row), else through Npgsql.
/// With <see cref="SplitKey"/> in the config (the runner's <c>source.split</c>) the one selected table is read as key
/// ranges (<see cref="PostgresKeyRanges"/>): every range at <c>parallel</c> at a time, or only the given <c>part</c>.
/// </summary>
public sealed class PostgresTap(TimeProvider? time = null) : ISplitTap, ITypedBuiltInTap
{
    /// <summary>The config key the runner puts <c>source.split</c> under (<see cref="SourceInvocation.Split"/>).</summary>
    public const string SplitKey = "dataspoc_split";

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

    public Task SyncAsync(JsonObject config, JsonObject? state, JsonObject? catalog, Stream output, CancellationToken cancellationToken)
        => ((ITypedBuiltInTap)this).SyncAsJsonAsync(config, state, catalog, output, cancellationToken);

    async Task ITypedBuiltInTap.SyncAsync(JsonObject config, JsonObject? state, JsonObject? catalog, RecordSink sink, CancellationToken cancellationToken)
    {
        var settings = Settings.From(config);
        var selection = new TapCatalog(catalog);
        var bookmarks = state?.DeepClone().AsObject() ?? new JsonObject();
        if (bookmarks["bookmarks"] is not JsonObject) bookmarks["bookmarks"] = new JsonObject();
        await using var connection = await OpenAsync(settings, cancellationToken).ConfigureAwait(false);
        var tables = await PostgresDiscovery.DiscoverAsync(connection, settings.Schemas, settings.FilterTables, cancellationToken).ConfigureAwait(false);
        if (config[SplitKey] is JsonObject split)
        {
            var table = SplitTable(tables, selection);
            var key = Key(table);
            var extracted = await PostgresTableSync.WithArrayDimensionsAsync(connection, Extracted(table, key, selection), key, bookmarks["bookmarks"]!.AsObject(), cancellationToken).ConfigureAwait(false);
            await SyncSplitAsync(settings, connection, table, extracted, key, SplitRequest.From(split), sink, bookmarks["bookmarks"]!.AsObject(), cancellationToken).ConfigureAwait(false);
        }
        else
        {
            using var libpq = settings.LibpqCopies();
            foreach (var table in tables)
            {
                if (!selection.IsSelected(table.StreamId)) continue;
                var key = Key(table);
                var extracted = await PostgresTableSync.WithArrayDimensionsAsync(connection, Extracted(table, key, selection), key, bookmarks["bookmarks"]!.AsObject(), cancellationToken).ConfigureAwait(false);
                await new PostgresTableSync(connection, extracted, key, settings.BatchSize, sink, bookmarks["bookmarks"]!.AsObject(), bookmarks, libpq)
                    .RunAsync(_time, cancellationToken).ConfigureAwait(false);
            }
        }
        sink.WriteState(bookmarks);
        await sink.FlushAsync(cancellationToken).ConfigureAwait(false);

        PostgresColumn? Key(PostgresTable table)
        {
            var method = selection.Metadata(table.StreamId, "replication-method");
            var key = selection.Metadata(table.StreamId, "replication-key") ?? settings.ReplicationKey(table);
            if (method is "LOG_BASED")
                throw new TapException($"{Name} tap: stream '{table.StreamId}': LOG_BASED replication is not supported; use INCREMENTAL with a replication key, or FULL_TABLE");
            if (method is "FULL_TABLE") key = null;
            else if (method is "INCREMENTAL" && key is null)
                throw new TapException($"{Name} tap: stream '{table.StreamId}' is INCREMENTAL but has no replication key (set metadata 'replication-key' or config replication_keys)");
            return key is null ? null : table.Columns.FirstOrDefault(c => c.Name == key)
                ?? throw new TapException($"{Name} tap: stream '{table.StreamId}': replication key '{key}' is not a column of {table.Schema}.{table.Table}");
        }
    }

    public async Task<JsonObject> PlanSplitAsync(JsonObject config, JsonObject? state, JsonObject? catalog, CancellationToken cancellationToken)
    {
        var settings = Settings.From(config);
        var split = SplitRequest.From(config[SplitKey] as JsonObject ?? throw new TapException($"{Name} tap: no split was asked for"));
        var selection = new TapCatalog(catalog);
        await using var connection = await OpenAsync(settings, cancellationToken).ConfigureAwait(false);
        var tables = await PostgresDiscovery.DiscoverAsync(connection, settings.Schemas, settings.FilterTables, cancellationToken).ConfigureAwait(false);
        var table = SplitTable(tables, selection);
        // The replication key as SyncAsync resolves it: a plan made here is read by SyncAsync in every worker.
        var method = selection.Metadata(table.StreamId, "replication-method");
        var keyName = method is "FULL_TABLE" ? null : selection.Metadata(table.StreamId, "replication-key") ?? settings.ReplicationKey(table);
        var key = keyName is null ? null : table.Columns.FirstOrDefault(c => c.Name == keyName)
            ?? throw new TapException($"{Name} tap: stream '{table.StreamId}': replication key '{keyName}' is not a column of {table.Schema}.{table.Table}");
        var ranges = await PlanAsync(connection, table, key, split, state?["bookmarks"] as JsonObject ?? new JsonObject(), cancellationToken).ConfigureAwait(false);
        return ranges.ToJson();
    }

    /// <summary>
    /// The table as far as it is read: only the columns the catalog selects (<c>source.select</c>), so the others never
    /// leave the database, plus the primary key and the replication key, which the tap always sends (the lake's merge and
    /// the bookmark need them).
    /// </summary>
    private static PostgresTable Extracted(PostgresTable table, PostgresColumn? key, TapCatalog selection)
    {
        IReadOnlyList<string> mustSend = key is null ? table.KeyProperties : [.. table.KeyProperties, key.Name];
        var columns = table.Columns.Where(c => selection.Extracts(table.StreamId, c.Name, mustSend)).ToList();
        if (columns.Count == 0)
            throw new TapException($"postgres tap: stream '{table.StreamId}': the catalog selects none of the columns of {table.Schema}.{table.Table} " +
                $"({string.Join(", ", table.Columns.Select(c => c.Name))}) and it has no primary key: select at least one column");
        return columns.Count == table.Columns.Count ? table : table with { Columns = columns };
    }

    private static PostgresTable SplitTable(List<PostgresTable> tables, TapCatalog selection)
    {
        var selected = tables.Where(t => selection.IsSelected(t.StreamId)).ToList();
        return selected.Count == 1 ? selected[0]
            : throw new TapException($"postgres tap: source.split reads one table, but {selected.Count} are selected" +
                (selected.Count > 0 ? $" ({string.Join(", ", selected.Take(5).Select(t => t.StreamId))})" : "") + "; name the table in source.streams");
    }

    private static async Task<PostgresKeyRanges> PlanAsync(NpgsqlConnection connection, PostgresTable table, PostgresColumn? key, SplitRequest split, JsonObject bookmarks, CancellationToken cancellationToken)
    {
        var column = table.Columns.FirstOrDefault(c => c.Name == split.Column)
            ?? throw new TapException($"postgres tap: stream '{table.StreamId}': source.split column '{split.Column}' is not a column of {table.Schema}.{table.Table}");
        var since = key is not null && PostgresTableSync.Bookmark(bookmarks, table.StreamId, key) is { } b ? PostgresTableSync.BookmarkText(b) : null;
        return await PostgresKeyRanges.PlanAsync(connection, table, column, split.Parts, key, since, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads a split table: SCHEMA, then the rows of the asked parts (each part on its own connection; parts read in
    /// parallel take turns handing a batch to the sink), then the bookmark of the plan's window or ACTIVATE_VERSION.
    /// </summary>
    private async Task SyncSplitAsync(Settings settings, NpgsqlConnection connection, PostgresTable table, PostgresTable extracted, PostgresColumn? key, SplitRequest split,
        RecordSink sink, JsonObject bookmarks, CancellationToken cancellationToken)
    {
        var ranges = split.Plan ?? await PlanAsync(connection, table, key, split, bookmarks, cancellationToken).ConfigureAwait(false);
        if (ranges.Stream != table.StreamId || ranges.Column != split.Column || ranges.Parts != split.Parts || ranges.ReplicationKey != key?.Name)
            throw new TapException($"{Name} tap: the split plan is for stream '{ranges.Stream}' column '{ranges.Column}' in {ranges.Parts} parts " +
                $"(replication key '{ranges.ReplicationKey}'), but this run reads '{table.StreamId}' column '{split.Column}' in {split.Parts} parts " +
                $"(replication key '{key?.Name}'): the pipeline changed during the split run; start a new one");
        var rows = sink.WriteSchema(table.StreamId, extracted.JsonSchema(), table.KeyProperties, key is null ? null : [key.Name]);
        await sink.FlushAsync(cancellationToken).ConfigureAwait(false);
        var infinities = new PostgresInfinities();
        if (split.Part is { } only)
        {
            await PostgresTableSync.ReadPartAsync(connection, extracted, ranges, only, settings.BatchSize, sink, rows, turn: null, infinities, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            using var turn = new SemaphoreSlim(1, 1);
            var options = new ParallelOptions { MaxDegreeOfParallelism = split.Parallel, CancellationToken = cancellationToken };
            await Parallel.ForEachAsync(Enumerable.Range(0, split.Parts), options, async (part, token) =>
            {
                await using var partConnection = await OpenAsync(settings, token).ConfigureAwait(false);
                await PostgresTableSync.ReadPartAsync(partConnection, extracted, ranges, part, settings.BatchSize, sink, rows, turn, infinities, token).ConfigureAwait(false);
            }).ConfigureAwait(false);
        }
        infinities.WriteNotices(sink, table.StreamId);
        await sink.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (key is not null)
        {
            var isIntegerKey = key.Kind is PostgresValueKind.Int16 or PostgresValueKind.Int32 or PostgresValueKind.Int64;
            if (ranges.Bookmark(isIntegerKey) is { } bookmark) bookmarks[table.StreamId] = bookmark;
        }
        else sink.WriteActivateVersion(table.StreamId, _time.GetUtcNow().ToUnixTimeMilliseconds());
    }

    /// <summary><c>source.split</c> as the runner passes it: column, parts, parallel, and for one worker its part and the shared plan.</summary>
    private sealed record SplitRequest(string Column, int Parts, int Parallel, int? Part, PostgresKeyRanges? Plan)
    {
        public static SplitRequest From(JsonObject json)
        {
            var config = new TapConfig("postgres", json);
            var parts = config.Int("parts") ?? 1;
            var part = config.Int("part");
            if (parts < 1 || part is { } p && (p < 0 || p >= parts)) throw new TapException($"postgres tap: split part {part} of {parts} is out of range");
            return new SplitRequest(config.RequiredString("column"), parts, Math.Max(1, config.Int("parallel") ?? parts), part,
                json["plan"] is JsonObject plan ? PostgresKeyRanges.FromJson(plan) : null);
        }
    }

    /// <summary>
    /// Run on every connection the tap opens (Npgsql's and libpq's): the settings that change the text of a value or of a
    /// bookmark (the replication key's <c>::text</c>, cast back on the next run), fixed so that neither depends on what
    /// the server, the database or the role sets. A bookmark written as <c>05/03/2024</c> under <c>DateStyle = 'SQL, DMY'</c>
    /// is read back as May 3rd once the database's DateStyle changes, and the rows in between never land. <c>DateStyle =
    /// ISO</c> sets only the output style: the day/month order for reading input stays the database's, so a bookmark an
    /// earlier version saved in another style still reads as it was written, and an ISO one is unambiguous either way.
    /// <c>extra_float_digits = 3</c> prints floats exactly (inside arrays, and a float key's bookmark) on every server
    /// version, as pg_dump sets it; <c>bytea_output = hex</c> is the form bytea array elements are written in.
    /// </summary>
    internal const string SessionSettings =
        "SET TIME ZONE 'UTC'; SET DateStyle = ISO; SET IntervalStyle = postgres; SET extra_float_digits = 3; SET bytea_output = hex";

    /// <summary>
    /// One data source per connection string for the process, as <c>new NpgsqlConnection(connectionString)</c> keeps
    /// one: its pool outlives a sync. Every value is read as a built-in type (others are selected as text:
    /// <see cref="PostgresColumn.SelectExpression"/>), so the catalog of the database's own types, which Npgsql would
    /// otherwise load on the first connection (a query and its parsing before anything is read), is not needed.
    /// </summary>
    private static readonly ConcurrentDictionary<string, NpgsqlDataSource> DataSources = new(StringComparer.Ordinal);

    private static NpgsqlDataSource DataSourceFor(string connectionString) => DataSources.GetOrAdd(connectionString, static c =>
    {
        var builder = new NpgsqlDataSourceBuilder(c);
        builder.ConfigureTypeLoading(types => types.EnableTypeLoading(false));
        return builder.Build();
    });

    private async Task<NpgsqlConnection> OpenAsync(Settings settings, CancellationToken cancellationToken)
    {
        var connection = DataSourceFor(settings.ConnectionString).CreateConnection();
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(SessionSettings, connection);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch (Exception e) when (e is NpgsqlException or PostgresException or TimeoutException or System.Net.Sockets.SocketException)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new TapException($"{Name} tap: cannot connect to {settings.Where}: {ConnectFailure(e)}", e);
        }
    }

    /// <summary>
    /// Why a connection failed: Npgsql's own message says only where it tried ("Failed to connect to host:port"); the
    /// socket's reason under it ("Connection refused") is what tells the user what to fix.
    /// </summary>
    private static string ConnectFailure(Exception e) =>
        e is not PostgresException && e.InnerException is { Message: { Length: > 0 } reason } && !e.Message.Contains(reason, StringComparison.Ordinal)
            ? $"{e.Message} ({reason})"
            : e.Message;

    internal sealed record Settings(string ConnectionString, string Where, List<string> Schemas, List<string> FilterTables, Dictionary<string, string> ReplicationKeys, int BatchSize,
        List<KeyValuePair<string, string>>? LibpqKeywords)
    {
        /// <summary>
        /// The libpq connection for this sync's full-table COPYs: none (Npgsql reads them) when libpq is not loaded or
        /// the server's certificate is to be verified (libpq trusts ~/.postgresql/root.crt, Npgsql the system's store).
        /// </summary>
        public LibpqCopyConnection LibpqCopies() => new(LibpqKeywords is null ? null : Libpq.Functions, LibpqKeywords ?? [], Where);

        public string? ReplicationKey(PostgresTable t)
            => ReplicationKeys.TryGetValue(t.StreamId, out var k) || ReplicationKeys.TryGetValue($"{t.Schema}.{t.Table}", out k) || ReplicationKeys.TryGetValue(t.Table, out k) ? k : null;

        /// <summary>The keys the tap reads (<c>database</c> and <c>username</c> are other names for <c>dbname</c> and <c>user</c>); the runner adds <see cref="SplitKey"/>.</summary>
        private static readonly string[] ConfigKeys =
            ["host", "port", "user", "username", "password", "dbname", "database", "sslmode", "gssencmode", "schemas", "filter_tables", "replication_keys", "batch_size"];

        public static Settings From(JsonObject json)
        {
            const string tap = "postgres";
            var config = new TapConfig(tap, json).OnlyKeys(ConfigKeys, runnerKey: SplitKey);
            var host = config.String("host") ?? "localhost";
            var port = config.Int("port") ?? 5432;
            var database = config.String("dbname") ?? config.String("database") ?? throw TapException.Configuration($"{tap} tap: config key 'dbname' is required");
            var builder = new NpgsqlConnectionStringBuilder
            {
                Host = host,
                Port = port,
                Database = database,
                Username = config.String("user") ?? config.String("username") ?? throw TapException.Configuration($"{tap} tap: config key 'user' is required"),
                Password = config.String("password"),
                ApplicationName = "dataspoc-pipe",
                // Large values stream through the cursor; no client-side buffering of whole result sets.
                CommandTimeout = 0,
                // Npgsql's default (Prefer) asks .NET's GSSAPI shim for Kerberos credentials on every connection; where
                // libgssapi_krb5 is absent (the container image, most servers) the shim prints "Cannot load library
                // libgssapi_krb5.so.2" and an "Error:" line to stderr although the run succeeds. GSS encryption is used
                // only when the config asks for it: gssencmode below.
                GssEncryptionMode = GssEncryptionMode.Disable,
            };
            // libpq's keywords for the same connection (Npgsql's defaults: client_encoding UTF8, the application name).
            List<KeyValuePair<string, string>>? libpq =
            [
                new("host", host), new("port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)), new("dbname", database),
                new("user", builder.Username), new("application_name", "dataspoc-pipe"), new("client_encoding", "UTF8"),
            ];
            if (builder.Password is { } password) libpq.Add(new("password", password));
            if (config.String("sslmode") is { } sslMode)
            {
                if (!Enum.TryParse<SslMode>(sslMode.Replace("-", "", StringComparison.Ordinal), ignoreCase: true, out var mode))
                    throw config.Wrong("sslmode", "one of disable, allow, prefer, require, verify-ca, verify-full");
                builder.SslMode = mode;
                libpq = mode is SslMode.VerifyCA or SslMode.VerifyFull ? null : libpq;
                libpq?.Add(new("sslmode", mode.ToString().ToLowerInvariant()));
            }
            if (config.String("gssencmode") is { } gssMode)
            {
                builder.GssEncryptionMode = gssMode.ToLowerInvariant() switch
                {
                    "disable" => GssEncryptionMode.Disable,
                    "prefer" => GssEncryptionMode.Prefer,
                    "require" => GssEncryptionMode.Require,
                    _ => throw config.Wrong("gssencmode", "one of disable, prefer, require"),
                };
                // Only an explicit mode goes to libpq: its own default (prefer) prints nothing, as libpq links GSSAPI
                // itself, and a libpq older than 12 refuses the keyword.
                libpq?.Add(new("gssencmode", builder.GssEncryptionMode.ToString().ToLowerInvariant()));
            }
            var keys = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (stream, value) in config.Object("replication_keys") ?? [])
            {
                if (value is not JsonValue v || v.GetValueKind() != JsonValueKind.String) throw config.Wrong($"replication_keys.{stream}", "a column name");
                keys[stream] = v.GetValue<string>();
            }
            var batch = config.Int("batch_size") ?? 10_000;
            if (batch < 1) throw config.Wrong("batch_size", "at least 1");
            return new Settings(builder.ConnectionString, $"{host}:{port}/{database}", config.Strings("schemas"), config.Strings("filter_tables"), keys, batch, libpq);
        }
    }
}

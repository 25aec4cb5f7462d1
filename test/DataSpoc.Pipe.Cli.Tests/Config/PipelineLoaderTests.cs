using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Cli.Tests.Config;

public sealed class PipelineLoaderTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "dsp-loader-" + Guid.NewGuid().ToString("N")[..10]);

    public PipelineLoaderTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly Dictionary<string, string> NoVariables = new();

    private PipelineDefinition Load(string yaml, IReadOnlyDictionary<string, string>? env = null, PipeDefaults? defaults = null)
    {
        var file = Path.Combine(_dir, "orders.yaml");
        File.WriteAllText(file, yaml);
        env ??= NoVariables;
        return new PipelineLoader(defaults, _dir, name => env.GetValueOrDefault(name)).LoadFile(file);
    }

    private ConfigException LoadFails(string yaml, IReadOnlyDictionary<string, string>? env = null) =>
        Assert.Throws<ConfigException>(() => Load(yaml, env));

    private const string Minimal = """
        source:
          tap: tap-postgres
        destination:
          bucket: file:///tmp/lake
        """;

    [Fact]
    public void The_reference_pipeline_yaml_loads_every_key()
    {
        File.WriteAllText(Path.Combine(_dir, "orders.json"), """{"host": "db", "password": "hunter22"}""");
        var p = Load($"""
            source:
              tap: tap-postgres
              config: {_dir}/orders.json
              streams: [orders, customers]
              name: pg
              timeout: 5m
              idle_timeout: 30
            destination:
              bucket: s3://my-company-datalake
              path: raw
              compression: snappy
              partition_by: created_at
              max_file_rows: 1_000_000
              max_file_mb: 256
              storage_options:
                endpoint_url: http://127.0.0.1:9000
                region: us-east-1
            incremental:
              enabled: true
            schedule:
              cron: "0 */6 * * *"
            on_invalid_record: quarantine
            transforms:
              orders:
                rename:
                  amount: total
            """);
        Assert.Equal("orders", p.Name);
        Assert.Equal("tap-postgres", p.Source.Tap);
        Assert.Equal(Path.Combine(_dir, "orders.json"), p.Source.ConfigPath);
        Assert.Equal(Path.Combine(_dir, "orders.json"), p.Source.ConfigFile);
        Assert.Null(p.Source.InlineConfig);
        Assert.Equal(["orders", "customers"], p.Source.Streams);
        Assert.Equal("pg", p.Source.Name);
        Assert.Equal(TimeSpan.FromMinutes(5), p.Source.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(30), p.Source.IdleTimeout);
        Assert.Equal("s3://my-company-datalake", p.Destination.Bucket);
        Assert.Equal("raw", p.Destination.Path);
        Assert.Equal(Compression.Snappy, p.Destination.Compression);
        Assert.Equal("created_at", p.Destination.PartitionBy);
        Assert.Equal(1_000_000, p.Destination.MaxFileRows);
        Assert.Equal(256, p.Destination.MaxFileMb);
        Assert.Equal("http://127.0.0.1:9000", p.Destination.StorageOptions["endpoint_url"]);
        Assert.True(p.Incremental.Enabled);
        Assert.Equal("0 */6 * * *", p.Schedule?.Cron);
        Assert.Equal(InvalidRecordPolicy.Quarantine, p.OnInvalidRecord);
        Assert.Equal("total", p.Transforms["orders"]?["rename"]?["amount"]?.GetValue<string>());
        Assert.Contains("hunter22", p.Secrets);
    }

    [Fact]
    public void Omitted_keys_take_the_built_in_defaults()
    {
        var p = Load(Minimal);
        Assert.Equal("raw", p.Destination.Path);
        Assert.Equal(Compression.Zstd, p.Destination.Compression);
        Assert.Equal(PartitionBySettings.ExtractionDate, p.Destination.PartitionBy);
        Assert.False(p.Incremental.Enabled);
        Assert.Null(p.Schedule);
        Assert.Null(p.Source.Streams);
        Assert.Equal(InvalidRecordPolicy.Fail, p.OnInvalidRecord);
    }

    [Fact]
    public void Source_discover_is_always_by_default_takes_cached_and_refuses_another_value_at_its_line()
    {
        Assert.Equal(DiscoverModes.Always, Load(Minimal).Source.Discover);
        Assert.Equal(DiscoverModes.Cached, Load(Minimal.Replace("tap-postgres", "tap-postgres\n  discover: cached", StringComparison.Ordinal)).Source.Discover);
        var e = LoadFails(Minimal.Replace("tap-postgres", "tap-postgres\n  discover: never", StringComparison.Ordinal));
        Assert.Equal((3, "source.discover"), (e.Line, e.Key));
        Assert.StartsWith($"{_dir}/orders.yaml:3: source.discover: 'never' is not one of: always, cached", e.Message);
    }

    [Fact]
    public void Config_yaml_defaults_apply_only_to_pipelines_that_omit_them()
    {
        var configYaml = Path.Combine(_dir, "config.yaml");
        File.WriteAllText(configYaml, "defaults:\n  compression: gzip\n  partition_by: none\n  path: landing\n");
        var defaults = PipeDefaults.Load(configYaml);
        var omitted = Load(Minimal, defaults: defaults);
        Assert.Equal(Compression.Gzip, omitted.Destination.Compression);
        Assert.Equal("none", omitted.Destination.PartitionBy);
        Assert.Equal("landing", omitted.Destination.Path);

        var given = Load(Minimal + "\n  compression: snappy\n  path: raw\n  partition_by: _extraction_date\n", defaults: defaults);
        Assert.Equal(Compression.Snappy, given.Destination.Compression);
        Assert.Equal("raw", given.Destination.Path);
        Assert.Equal("_extraction_date", given.Destination.PartitionBy);
    }

    [Fact]
    public void Table_format_takes_one_format_or_iceberg_and_delta_together_and_defaults_to_plain_parquet()
    {
        Assert.Equal(TableFormats.Parquet, Load(Minimal).Destination.TableFormat);
        Assert.Equal(TableFormats.Parquet, Load(Minimal + "\n  table_format: parquet\n").Destination.TableFormat);
        Assert.Equal(TableFormats.Iceberg, Load(Minimal + "\n  table_format: iceberg\n").Destination.TableFormat);
        Assert.Equal(TableFormats.Delta, Load(Minimal + "\n  table_format: Delta\n").Destination.TableFormat);
        Assert.Equal(TableFormats.Iceberg | TableFormats.Delta, Load(Minimal + "\n  table_format: [iceberg, delta]\n").Destination.TableFormat);

        var configYaml = Path.Combine(_dir, "config.yaml");
        File.WriteAllText(configYaml, "defaults:\n  table_format: [delta, iceberg]\n");
        var defaults = PipeDefaults.Load(configYaml);
        Assert.Equal(TableFormats.Iceberg | TableFormats.Delta, Load(Minimal, defaults: defaults).Destination.TableFormat);
        Assert.Equal(TableFormats.Parquet, Load(Minimal + "\n  table_format: parquet\n", defaults: defaults).Destination.TableFormat);
    }

    [Fact]
    public void A_wrong_table_format_names_the_file_the_line_the_key_and_the_choices()
    {
        var unknown = LoadFails(Minimal + "\n  table_format: hudi\n");
        Assert.StartsWith($"{_dir}/orders.yaml:5: destination.table_format: expected parquet, iceberg, delta or [iceberg, delta], got 'hudi'", unknown.Message);
        var mixed = LoadFails(Minimal + "\n  table_format: [parquet, iceberg]\n");
        Assert.Equal((5, "destination.table_format"), (mixed.Line, mixed.Key));
        Assert.Contains("parquet (no table metadata) cannot be combined", mixed.Message);
        Assert.Contains("listed twice", LoadFails(Minimal + "\n  table_format: [delta, delta]\n").Message);
        Assert.Contains("got a mapping", LoadFails(Minimal + "\n  table_format: {iceberg: true}\n").Message);
    }

    [Fact]
    public void An_unknown_key_names_the_file_the_line_and_the_key()
    {
        var e = LoadFails("source:\n  tap: tap-x\ndestination:\n  bucket: file:///tmp/l\n  compresion: zstd\n");
        Assert.Equal(Path.Combine(_dir, "orders.yaml"), e.File);
        Assert.Equal(5, e.Line);
        Assert.Equal("destination.compresion", e.Key);
        Assert.StartsWith($"{_dir}/orders.yaml:5: destination.compresion: unknown key", e.Message);
        Assert.Contains("compression", e.Message);
    }

    [Fact]
    public void A_wrong_type_names_the_file_the_line_and_the_key()
    {
        var e = LoadFails(Minimal + "\nincremental:\n  enabled: sometimes\n");
        Assert.Equal(6, e.Line);
        Assert.Equal("incremental.enabled", e.Key);
        Assert.Contains("expected true or false", e.Message);

        var list = LoadFails("source:\n  tap: [a, b]\ndestination:\n  bucket: file:///tmp/l\n");
        Assert.Equal(2, list.Line);
        Assert.Equal("source.tap", list.Key);
        Assert.Contains("expected a text value, got a list", list.Message);

        var rows = LoadFails(Minimal + "\n  max_file_rows: lots\n");
        Assert.Equal("destination.max_file_rows", rows.Key);
        Assert.Equal(5, rows.Line);

        var codec = LoadFails(Minimal + "\n  compression: lz4\n");
        Assert.Contains("expected zstd, snappy, gzip or none, got 'lz4'", codec.Message);
    }

    [Fact]
    public void A_missing_required_key_and_invalid_yaml_are_reported_with_their_line()
    {
        var noBucket = LoadFails("source:\n  tap: tap-x\ndestination:\n  path: raw\n");
        Assert.Equal("destination.bucket", noBucket.Key);
        Assert.Equal(4, noBucket.Line);

        var broken = LoadFails("source:\n  tap: tap-x\n destination: [\n");
        Assert.NotNull(broken.Line);
        Assert.Contains("invalid YAML", broken.Message);

        // A plain scalar after an unclosed '{' that runs into the next key: YamlDotNet's scanner throws an
        // InvalidOperationException there, not a YamlException; it is the same file:line error.
        var unclosed = LoadFails("source:\n  tap: tap-x\n  config: {path: /tmp\ndestination:\n  bucket: file:///tmp/x\n");
        Assert.Equal(4, unclosed.Line);
        Assert.StartsWith("invalid YAML: ", unclosed.Reason);
        Assert.Equal(2, LoadFails("a: {b: 1\nc: 2\n").Line);
    }

    [Fact]
    public void A_bucket_prefix_with_a_dot_dot_segment_is_refused_like_destination_path()
    {
        var bucket = LoadFails("source:\n  tap: tap-x\ndestination:\n  bucket: az://lake/../victim\n  path: raw\n");
        Assert.Equal(("destination.bucket", 4), (bucket.Key, bucket.Line));
        Assert.Contains("bucket 'az://lake/../victim' must not contain empty, '.' or '..' segments", bucket.Message);
        var path = LoadFails("source:\n  tap: tap-x\ndestination:\n  bucket: az://lake\n  path: ../escape\n");
        Assert.Equal("destination.path", path.Key);
        Assert.Contains("destination.path '../escape' must not contain empty, '.' or '..' segments", path.Message);
    }

    [Theory]
    [InlineData("source:\n  tap: tap-x\n  name: crm#eu\ndestination:\n  bucket: file:///tmp/lake\n", "source.name", 3, "source name 'crm#eu' must not contain '#'")]
    [InlineData("source:\n  tap: tap-x\ndestination:\n  bucket: s3://lake/team?x\n", "destination.bucket", 4, "bucket 's3://lake/team?x' must not contain '?'")]
    [InlineData("source:\n  tap: tap-x\ndestination:\n  bucket: file:///tmp/lake%41\n", "destination.bucket", 4, "bucket 'file:///tmp/lake%41' must not contain '%'")]
    [InlineData("source:\n  tap: tap-x\ndestination:\n  bucket: az://lake\n  path: raw/q#1\n", "destination.path", 5, "destination.path 'raw/q#1' must not contain '#'")]
    public void A_uri_delimiter_in_a_folder_the_user_names_is_refused_with_its_line(string yaml, string key, int line, string message)
    {
        // Stream names are renamed ('#' -> '_'); these are the user's own folders, kept as written, so they are refused:
        // an Iceberg reader would cut the table's location at '#' or '?' and decode '%41'.
        var refused = LoadFails(yaml);
        Assert.Equal((key, line), (refused.Key, refused.Line));
        Assert.Contains(message, refused.Message);
        Assert.Contains("table locations are URIs", refused.Message);
    }

    [Fact]
    public void A_maintain_schedule_loads_with_maintains_defaults_and_its_options()
    {
        var alone = Load(Minimal + "\nschedule:\n  maintain:\n    cron: \"0 3 * * *\"\n");
        Assert.Null(alone.Schedule!.Cron);
        Assert.Equal(new MaintainSchedule { Cron = "0 3 * * *", ExpireOlderThan = TimeSpan.FromDays(7), Compact = false, TargetFileMb = null }, alone.Schedule.Maintain);
        var full = Load(Minimal + "\nschedule:\n  cron: \"*/15 * * * *\"\n  maintain:\n    cron: \"@daily\"\n    expire_older_than: 1d12h\n    compact: true\n    target_file_mb: 256\n");
        Assert.Equal("*/15 * * * *", full.Schedule!.Cron);
        Assert.Equal(new MaintainSchedule { Cron = "@daily", ExpireOlderThan = TimeSpan.FromHours(36), Compact = true, TargetFileMb = 256 }, full.Schedule.Maintain);
        // Shown as configured, under the YAML's names.
        Assert.Equal("""{"cron":"*/15 * * * *","maintain":{"cron":"@daily","expire_older_than":"1d12h","compact":true,"target_file_mb":256}}""",
            PipelineConfigView.ToJson(full)["schedule"]!.ToJsonString());
    }

    [Theory]
    [InlineData("  maintain:\n    cron: \"0 3 * * *\"\n    expire: 7d\n", "schedule.maintain.expire", 8, "unknown key (allowed here: cron, expire_older_than, compact, target_file_mb)")]
    [InlineData("  maintenance:\n    cron: \"0 3 * * *\"\n", "schedule.maintenance", 6, "unknown key (allowed here: cron, maintain)")]
    [InlineData("  maintain: daily\n", "schedule.maintain", 6, "expected a mapping of keys")]
    [InlineData("  maintain:\n    cron: \"0 3 * *\"\n", "schedule.maintain.cron", 7, "invalid cron expression '0 3 * *'")]
    [InlineData("  maintain:\n    cron: \"0 3 L * *\"\n", "schedule.maintain.cron", 7, "'L' (the last day) in day-of-month is Quartz syntax")]
    [InlineData("  maintain:\n    cron:\n", "schedule.maintain.cron", 7, "must not be empty")]
    [InlineData("  maintain:\n    compact: true\n", "schedule.maintain.cron", 7, "is required")]
    [InlineData("  maintain:\n    cron: \"0 3 * * *\"\n    expire_older_than: 0.0015\n", "schedule.maintain.expire_older_than", 8, "whole milliseconds")]
    [InlineData("  maintain:\n    cron: \"0 3 * * *\"\n    expire_older_than: 0.0001\n", "schedule.maintain.expire_older_than", 8, "at least 1ms")]
    [InlineData("  maintain:\n    cron: \"0 3 * * *\"\n    expire_older_than: 1e300\n", "schedule.maintain.expire_older_than", 8, "at most 100 years")]
    [InlineData("  maintain:\n    cron: \"0 3 * * *\"\n    expire_older_than: 1000000d\n", "schedule.maintain.expire_older_than", 8, "at most 100 years")]
    [InlineData("  maintain:\n    cron: \"0 3 * * *\"\n    compact: maybe\n", "schedule.maintain.compact", 8, "expected true or false, got 'maybe'")]
    [InlineData("  maintain:\n    cron: \"0 3 * * *\"\n    compact: true\n    target_file_mb: 0\n", "schedule.maintain.target_file_mb", 9, "expected a positive whole number")]
    [InlineData("  maintain:\n    cron: \"0 3 * * *\"\n    target_file_mb: 64\n", "schedule.maintain.target_file_mb", 8, "sizes the files compaction writes: add compact: true")]
    public void A_bad_maintain_schedule_is_rejected_naming_its_key_and_line(string maintain, string key, int line, string reason)
    {
        var e = LoadFails(Minimal + "\nschedule:\n" + maintain);
        Assert.Equal((key, line), (e.Key, e.Line ?? 0));
        Assert.Contains(reason, e.Reason);
    }

    [Fact]
    public void An_invalid_cron_expression_is_rejected_with_its_line()
    {
        var e = LoadFails(Minimal + "\nschedule:\n  cron: \"61 * * * *\"\n");
        Assert.Equal("schedule.cron", e.Key);
        Assert.Equal(6, e.Line);
        Assert.Contains("invalid cron expression", e.Message);
    }

    [Theory]
    [InlineData("0 0 L * *", "'L' (the last day) in day-of-month")]
    [InlineData("0 0 1W * *", "'W' (the nearest weekday) in day-of-month")]
    [InlineData("0 0 LW * *", "'W' (the nearest weekday) in day-of-month")]
    [InlineData("0 0 * * 5#3", "'#' (the nth weekday of the month)")]
    [InlineData("0 0 * * 5L", "'L' (the last weekday of the month) in day-of-week")]
    [InlineData("0 0 ? * MON", "'?' (no specific value)")]
    public void Quartz_cron_syntax_that_cron_and_kubernetes_refuse_is_rejected_with_its_line(string cron, string what)
    {
        var e = LoadFails(Minimal + $"\nschedule:\n  cron: \"{cron}\"\n");
        Assert.Equal(("schedule.cron", 6), (e.Key, e.Line ?? 0));
        Assert.Equal($"invalid cron expression '{cron}' (five fields: minute hour day-of-month month day-of-week): {what} is Quartz syntax, " +
            "which cron and Kubernetes CronJobs do not accept (one such line makes crontab refuse the whole file)", e.Reason);
    }

    [Theory]
    [InlineData("0 0 * JUL WED")]
    [InlineData("0 0 1-7 jul,aug sat")]
    [InlineData("@weekly")]
    public void Month_and_weekday_names_holding_the_same_letters_stay_valid(string cron) =>
        Assert.Null(PipelineLoader.CronError(cron));

    [Fact]
    public void Variables_and_defaults_expand_in_the_pipeline_yaml()
    {
        var env = new Dictionary<string, string> { ["LAKE"] = "/data/lake", ["EMPTY"] = "" };
        var p = Load("source:\n  tap: tap-x\ndestination:\n  bucket: file://${LAKE}\n  path: ${BASE:-raw}/${EMPTY:-x}\n  storage_options:\n    note: $${LITERAL}\n", env);
        Assert.Equal("file:///data/lake", p.Destination.Bucket);
        Assert.Equal("raw/x", p.Destination.Path);
        Assert.Equal("${LITERAL}", p.Destination.StorageOptions["note"]);
        Assert.Contains("destination.bucket", p.Redaction.InterpolatedKeys);
    }

    [Fact]
    public void A_missing_variable_names_the_variable_file_and_line_and_never_a_value()
    {
        var env = new Dictionary<string, string> { ["PG_USER"] = "admin-user" };
        var e = LoadFails("source:\n  tap: tap-x\n  config:\n    user: ${PG_USER}\n    password: ${PG_PASSWORD}\ndestination:\n  bucket: file:///tmp/l\n", env);
        Assert.Equal(5, e.Line);
        Assert.Equal("source.config.password", e.Key);
        Assert.Contains("'PG_PASSWORD' is not set", e.Message);
        Assert.DoesNotContain("admin-user", e.Message);
    }

    [Fact]
    public void Inline_config_becomes_typed_json_and_its_secrets_are_recorded()
    {
        var env = new Dictionary<string, string> { ["PGPASSWORD"] = "s3cr3t-pw", ["PORT"] = "5433" };
        var p = Load("source:\n  tap: tap-postgres\n  config:\n    host: db\n    port: ${PORT}\n    ssl: true\n    password: ${PGPASSWORD}\n    schemas: [public, sales]\ndestination:\n  bucket: file:///tmp/l\n", env);
        var config = p.Source.InlineConfig!;
        Assert.Equal("db", config["host"]!.GetValue<string>());
        Assert.Equal(5433, config["port"]!.GetValue<long>());
        Assert.True(config["ssl"]!.GetValue<bool>());
        Assert.Equal("s3cr3t-pw", config["password"]!.GetValue<string>());
        Assert.Equal(["public", "sales"], config["schemas"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Contains("s3cr3t-pw", p.Secrets);
        Assert.Equal("connect with *** failed", p.Redaction.Redact("connect with s3cr3t-pw failed"));
        var shown = p.Redaction.Redact(new JsonObject { ["source"] = new JsonObject { ["config"] = config.DeepClone() } })!;
        Assert.Equal("***", shown["source"]!["config"]!["password"]!.GetValue<string>());
        Assert.Equal("***", shown["source"]!["config"]!["port"]!.GetValue<string>());
        Assert.Equal("db", shown["source"]!["config"]!["host"]!.GetValue<string>());
    }

    [Fact]
    public void Variables_in_a_tap_config_file_expand_into_a_private_inline_config()
    {
        var json = Path.Combine(_dir, "pg.json");
        File.WriteAllText(json, """{"host": "db", "password": "${PGPASSWORD}", "nested": {"token": "${API_TOKEN:-tok-default}"}}""");
        var env = new Dictionary<string, string> { ["PGPASSWORD"] = "from-env-pw" };
        var p = Load("source:\n  tap: tap-postgres\n  config: pg.json\ndestination:\n  bucket: file:///tmp/l\n", env);
        Assert.Null(p.Source.ConfigPath);
        Assert.Equal(json, p.Source.ConfigFile);
        Assert.Equal("from-env-pw", p.Source.InlineConfig!["password"]!.GetValue<string>());
        Assert.Equal("tok-default", p.Source.InlineConfig!["nested"]!["token"]!.GetValue<string>());
        Assert.Contains("from-env-pw", p.Secrets);
        Assert.Contains("tok-default", p.Secrets);
    }

    [Fact]
    public void A_missing_variable_in_a_tap_config_file_names_the_variable_and_the_file()
    {
        File.WriteAllText(Path.Combine(_dir, "pg.json"), """{"password": "${PGPASSWORD}"}""");
        var e = LoadFails("source:\n  tap: tap-postgres\n  config: pg.json\ndestination:\n  bucket: file:///tmp/l\n");
        Assert.Equal(Path.Combine(_dir, "pg.json"), e.File);
        Assert.Equal("$.password", e.Key);
        Assert.Contains("'PGPASSWORD' is not set", e.Message);
    }

    [Fact]
    public void Invalid_tap_config_json_names_the_file_and_line()
    {
        File.WriteAllText(Path.Combine(_dir, "pg.json"), "{\n  \"host\": \"db\",\n  \"port\": ,\n}");
        var e = LoadFails("source:\n  tap: tap-postgres\n  config: pg.json\ndestination:\n  bucket: file:///tmp/l\n");
        Assert.Equal(Path.Combine(_dir, "pg.json"), e.File);
        Assert.Equal(3, e.Line);
        Assert.Contains("invalid JSON", e.Message);
    }

    [Fact]
    public void A_tap_config_path_that_does_not_exist_is_an_error_on_its_line()
    {
        var e = LoadFails("source:\n  tap: tap-postgres\n  config: nowhere.json\ndestination:\n  bucket: file:///tmp/l\n");
        Assert.Equal(3, e.Line);
        Assert.Equal("source.config", e.Key);
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void Run_logs_keep_takes_an_age_and_refuses_anything_else_with_its_line()
    {
        Assert.Equal(TimeSpan.FromDays(90), Load(Minimal + "\nrun_logs:\n  keep: 90d\n").RunLogs.Keep);
        Assert.Null(Load(Minimal).RunLogs.Keep);
        var e = LoadFails(Minimal + "\nrun_logs:\n  keep: forever\n");
        Assert.Equal("run_logs.keep", e.Key);
        Assert.Equal(6, e.Line);
        Assert.Contains("expected a duration", e.Message);
    }

    [Theory]
    [InlineData("30s", 30)]
    [InlineData("5m", 300)]
    [InlineData("1h30m", 5400)]
    [InlineData("90", 90)]
    [InlineData("500ms", 0.5)]
    public void Durations_accept_units_or_seconds(string text, double seconds)
    {
        Assert.True(Durations.TryParse(text, out var d));
        Assert.Equal(seconds, d.TotalSeconds);
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("5x")]
    [InlineData("-3")]
    public void Durations_reject_anything_else(string text) => Assert.False(Durations.TryParse(text, out _));

    [Theory]
    [InlineData("0s")]
    [InlineData("0")]
    [InlineData("0d0h")]
    public void A_zero_duration_is_refused_as_zero_not_as_a_syntax_error(string text)
    {
        Assert.False(Durations.TryParse(text, out _));
        Assert.Equal($"'{text}' is zero: give a duration greater than zero (e.g. 7d)", Durations.Problem(text, "7d"));
        Assert.Equal("'5x' is not a duration (e.g. 7d)", Durations.Problem("5x", "7d"));
        Assert.Null(Durations.Problem("7d", "7d"));
    }

    [Theory]
    [InlineData("1e300")]
    [InlineData("99999999999d")]
    [InlineData("36501d")]
    public void An_age_beyond_a_hundred_years_is_refused_as_too_long_not_thrown_as_an_overflow(string text)
    {
        // TimeSpan overflowed (an unhandled OverflowException), or "now minus the age" left the calendar at maintain time.
        Assert.False(Durations.TryParse(text, out _));
        Assert.Equal($"'{text}' is longer than 36500d (100 years), the longest duration taken", Durations.Problem(text, "7d"));
        Assert.True(Durations.TryParse("36500d", out var longest));
        Assert.Equal(Durations.Longest, longest);
    }
}

using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Tests.Configuration;

/// <summary>
/// <c>config</c>, <c>pipeline_config</c> and <c>PipeClient.Config</c> show this view as "the effective configuration":
/// every key that changes what a run does, with the defaults a run applies, secrets masked.
/// </summary>
public sealed class PipelineConfigViewTests
{
    private static JsonObject View(string yaml, PipeDefaults? defaults = null, IReadOnlyDictionary<string, string>? env = null) =>
        PipelineConfigView.ToJson(new PipelineLoader(defaults, environment: name => env?.GetValueOrDefault(name)).Parse(yaml, "shop", "/x/shop.yaml"));

    [Fact]
    public void Every_key_of_the_readmes_full_pipeline_is_shown_as_a_run_uses_it()
    {
        var yaml = """
            source:
              tap: tap-postgres
              config: {host: db, dbname: shop}
              streams: [shop-public-orders]
              catalog_flag: --properties
              discover: cached
              replication:
                shop-public-orders: {method: INCREMENTAL, key: updated_at}
              select:
                shop-public-orders: [id, amount, updated_at]
              name: postgres
              timeout: 2h
              idle_timeout: 10m
              max_line_mb: 64
              split: {column: id, parts: 4, parallel: 2}
            destination:
              bucket: s3://my-company-datalake
              path: raw
              compression: snappy
              partition_by: none
              max_file_rows: 1000
              max_file_mb: 64
              table_format: [iceberg, delta]
              write_mode: merge
              merge: {order_by: updated_at, hard_delete: false}
            incremental:
              enabled: true
            on_invalid_record: quarantine
            schedule:
              cron: "0 */6 * * *"
              maintain: {cron: "0 3 * * *", compact: true}
            run_logs:
              keep: 90d
            transforms:
              shop-public-orders:
                drop: [note]
            """;
        var expected = """
            {"source":{"tap":"tap-postgres","config":{"host":"db","dbname":"shop"},"streams":["shop-public-orders"],
            "catalog_flag":"--properties","discover":"cached",
            "replication":{"shop-public-orders":{"method":"INCREMENTAL","key":"updated_at"}},
            "select":{"shop-public-orders":["id","amount","updated_at"]},"name":"postgres","timeout":"7200s","idle_timeout":"600s","max_line_mb":64,
            "split":{"column":"id","parts":4,"parallel":2}},
            "destination":{"bucket":"s3://my-company-datalake","path":"raw","compression":"snappy","partition_by":"none",
            "max_file_rows":1000,"max_file_mb":64,"storage_options":{},"table_format":["iceberg","delta"],"write_mode":"merge",
            "merge":{"order_by":"updated_at","hard_delete":false}},
            "incremental":{"enabled":true},"on_invalid_record":"quarantine",
            "schedule":{"cron":"0 */6 * * *","maintain":{"cron":"0 3 * * *","expire_older_than":"7d","compact":true,"target_file_mb":128}},
            "run_logs":{"keep":"90d"},"transforms":{"shop-public-orders":{"drop":["note"]}}}
            """;
        Assert.Equal(JsonNode.Parse(expected)!.ToJsonString(), View(yaml).ToJsonString());
    }

    [Fact]
    public void A_minimal_pipeline_shows_the_defaults_a_run_applies_and_null_for_what_is_off()
    {
        var view = View("source:\n  tap: python3 /taps/tap_orders.py\ndestination:\n  bucket: file:///lake\n");
        var expected = """
            {"source":{"tap":"python3 /taps/tap_orders.py","config":null,"streams":null,"catalog_flag":"auto","discover":"always",
            "replication":{},"select":{},"name":"tap_orders","timeout":null,"idle_timeout":null,"max_line_mb":512,"split":null},
            "destination":{"bucket":"file:///lake","path":"raw","compression":"zstd","partition_by":"_extraction_date",
            "max_file_rows":50000000,"max_file_mb":256,"storage_options":{},"table_format":"parquet","write_mode":"replace"},
            "incremental":{"enabled":false},"on_invalid_record":"fail","schedule":{"cron":null,"maintain":null},
            "run_logs":{"keep":null},"transforms":{}}
            """;
        Assert.Equal(JsonNode.Parse(expected)!.ToJsonString(), view.ToJsonString());
    }

    [Theory]
    [InlineData("incremental: {enabled: true}\n", "append")]
    [InlineData("incremental: {enabled: false}\n", "replace")]
    public void Without_write_mode_the_view_shows_the_mode_incremental_implies(string incremental, string mode) =>
        Assert.Equal(mode, View("source:\n  tap: csv\ndestination:\n  bucket: file:///lake\n" + incremental)["destination"]!["write_mode"]!.GetValue<string>());

    [Fact]
    public void Config_yaml_defaults_are_shown_where_the_pipeline_omits_the_key()
    {
        var defaults = new PipeDefaults { TableFormat = TableFormats.Delta, Compression = Compression.Gzip, Path = "landing", PartitionBy = "none" };
        var destination = View("source:\n  tap: csv\ndestination:\n  bucket: file:///lake\n", defaults)["destination"]!;
        Assert.Equal(("delta", "gzip", "landing", "none"), (destination["table_format"]!.GetValue<string>(),
            destination["compression"]!.GetValue<string>(), destination["path"]!.GetValue<string>(), destination["partition_by"]!.GetValue<string>()));
        var own = View("source:\n  tap: csv\ndestination:\n  bucket: file:///lake\n  table_format: iceberg\n", defaults)["destination"]!;
        Assert.Equal("iceberg", own["table_format"]!.GetValue<string>());
    }

    [Fact]
    public void The_config_view_masks_secret_keys_and_variable_values_and_keeps_the_rest()
    {
        var env = new Dictionary<string, string> { ["PGPASSWORD"] = "pw-from-env", ["BUCKET"] = "s3://secret-bucket" };
        var yaml = "source:\n  tap: tap-postgres\n  config:\n    host: db\n    password: ${PGPASSWORD}\n    api_key: literal-key-123\n" +
                   "  streams: [orders]\n  timeout: 5m\ndestination:\n  bucket: ${BUCKET}\n  storage_options:\n    region: us-east-1\n    secret_access_key: abcd1234\n" +
                   "schedule:\n  cron: \"0 * * * *\"\nrun_logs: {keep: 1h30m}\n";
        var view = View(yaml, env: env);
        Assert.Equal("tap-postgres", view["source"]!["tap"]!.GetValue<string>());
        Assert.Equal("db", view["source"]!["config"]!["host"]!.GetValue<string>());
        Assert.Equal("***", view["source"]!["config"]!["password"]!.GetValue<string>());
        Assert.Equal("***", view["source"]!["config"]!["api_key"]!.GetValue<string>());
        Assert.Equal("300s", view["source"]!["timeout"]!.GetValue<string>());
        Assert.Equal("***", view["destination"]!["bucket"]!.GetValue<string>());
        Assert.Equal("us-east-1", view["destination"]!["storage_options"]!["region"]!.GetValue<string>());
        Assert.Equal("***", view["destination"]!["storage_options"]!["secret_access_key"]!.GetValue<string>());
        Assert.Equal("zstd", view["destination"]!["compression"]!.GetValue<string>());
        Assert.Equal("0 * * * *", view["schedule"]!["cron"]!.GetValue<string>());
        Assert.Equal("1h30m", view["run_logs"]!["keep"]!.GetValue<string>());
        var text = view.ToJsonString();
        foreach (var secret in new[] { "pw-from-env", "literal-key-123", "secret-bucket", "abcd1234" }) Assert.DoesNotContain(secret, text);
    }

    [Fact]
    public void A_stream_named_like_a_secret_is_shown_under_select_replication_and_transforms()
    {
        var env = new Dictionary<string, string> { ["API_SECRET"] = "sec-from-env-789" };
        var yaml = "source:\n  tap: tap-api\n  config:\n    api_token: literal-token-1\n    base: ${API_SECRET}\n" +
                   "  replication:\n    api_tokens: {method: FULL_TABLE}\n  select:\n    api_tokens: [id]\n" +
                   "destination:\n  bucket: file:///lake\ntransforms:\n  api_tokens:\n    drop: [note]\n";
        var view = View(yaml, env: env);
        Assert.Equal("""{"method":"FULL_TABLE","key":null}""", view["source"]!["replication"]!["api_tokens"]!.ToJsonString());
        Assert.Equal("""["id"]""", view["source"]!["select"]!["api_tokens"]!.ToJsonString());
        Assert.Equal("""{"drop":["note"]}""", view["transforms"]!["api_tokens"]!.ToJsonString());
        Assert.Equal(("***", "***"), (view["source"]!["config"]!["api_token"]!.GetValue<string>(), view["source"]!["config"]!["base"]!.GetValue<string>()));
        var text = view.ToJsonString();
        foreach (var secret in new[] { "literal-token-1", "sec-from-env-789" }) Assert.DoesNotContain(secret, text);
    }
}

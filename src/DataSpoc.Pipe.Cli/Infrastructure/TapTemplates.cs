using System.Text.Json;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>
/// Starting tap configs for well-known taps, written to <c>sources/&lt;name&gt;.json</c> by <c>add</c>. Secrets are
/// <c>${VAR}</c> references, so the file never needs to hold them. Unknown taps get their settings from <c>--about</c>.
/// </summary>
internal static class TapTemplates
{
    private static readonly Dictionary<string, string> Templates = new(StringComparer.Ordinal)
    {
        ["tap-postgres"] = """{"host": "localhost", "port": 5432, "user": "postgres", "password": "${PGPASSWORD}", "dbname": "postgres", "filter_schemas": "public"}""",
        ["postgres"] = """{"host": "localhost", "port": 5432, "user": "postgres", "password": "${PGPASSWORD}", "dbname": "postgres", "schemas": ["public"]}""",
        ["tap-mysql"] = """{"host": "localhost", "port": 3306, "user": "root", "password": "${MYSQL_PASSWORD}", "database": "mydb"}""",
        ["tap-csv"] = """{"files": [{"entity": "orders", "path": "/path/to/orders.csv", "keys": ["id"]}]}""",
        // No delimiter: the tap sniffs each file's (a fixed one would turn that off for every pipeline add writes).
        ["csv"] = """{"path": "/path/to/csv/folder-or-file"}""",
        ["jsonl"] = """{"path": "/path/to/jsonl/folder-or-file"}""",
        ["parquet"] = """{"path": "file:///path/to/lake/raw/source/table"}""",
        ["google-sheets-public"] = """{"url": "https://docs.google.com/spreadsheets/d/<id>/edit#gid=0", "stream_name": "sheet"}""",
        ["tap-github"] = """{"access_token": "${GITHUB_TOKEN}", "repositories": ["owner/repo"], "start_date": "2024-01-01T00:00:00Z"}""",
        ["tap-gitlab"] = """{"private_token": "${GITLAB_TOKEN}", "projects": "group/project", "start_date": "2024-01-01T00:00:00Z"}""",
        ["tap-s3-csv"] = """{"bucket": "my-bucket", "start_date": "2024-01-01T00:00:00Z", "tables": [{"search_prefix": "exports", "search_pattern": "\\.csv$", "table_name": "exports", "key_properties": ["id"], "delimiter": ","}]}""",
        ["tap-salesforce"] = """{"client_id": "${SALESFORCE_CLIENT_ID}", "client_secret": "${SALESFORCE_CLIENT_SECRET}", "refresh_token": "${SALESFORCE_REFRESH_TOKEN}", "start_date": "2024-01-01T00:00:00Z", "api_type": "BULK"}""",
        ["tap-stripe"] = """{"client_secret": "${STRIPE_API_KEY}", "account_id": "acct_...", "start_date": "2024-01-01T00:00:00Z"}""",
        ["tap-hubspot"] = """{"access_token": "${HUBSPOT_TOKEN}", "start_date": "2024-01-01T00:00:00Z"}""",
        ["tap-rest-api-msdk"] = """{"api_url": "https://api.example.com", "streams": [{"name": "items", "path": "/items", "primary_keys": ["id"]}]}""",
    };

    /// <summary>Well-known tap names, for the wizard's hint.</summary>
    public static IEnumerable<string> Known => Templates.Keys.Order(StringComparer.Ordinal);

    /// <summary>The template for <paramref name="tap"/> (matched by its executable name), or null.</summary>
    public static JsonObject? For(string tap)
    {
        var words = Sources.CommandLine.Split(tap);
        if (words.Count == 0) return null;
        var name = Path.GetFileNameWithoutExtension(words[0]);
        return Templates.TryGetValue(name, out var json) ? (JsonObject)JsonNode.Parse(json)! : null;
    }

    /// <summary>
    /// A config skeleton from a Singer SDK tap's <c>--about --format json</c> settings: every setting as a key,
    /// secrets as <c>${PIPELINE_SETTING}</c> references, defaults where the tap declares one. Null when the tap does not answer.
    /// </summary>
    public static async Task<JsonObject?> FromAboutAsync(string tap, string pipeline, CancellationToken cancellationToken)
    {
        Sources.TapAnswer result;
        try
        {
            result = await Sources.TapAnswer.AskAsync(tap, ["--about", "--format", "json"], TimeSpan.FromSeconds(30), cancellationToken);
        }
        catch (Exception e) when (e is Runs.TapFailedException or Sources.TapNotFoundException)
        {
            return null;
        }
        if (result.ExitCode != 0) return null;
        JsonNode? about;
        try
        {
            about = JsonNode.Parse(result.Stdout);
        }
        catch (JsonException)
        {
            return null;
        }
        if (about?["settings"] is not JsonArray settings) return null;
        var config = new JsonObject();
        foreach (var setting in settings.OfType<JsonObject>())
        {
            if (setting["name"]?.ToString() is not { Length: > 0 } name || name.Contains('.')) continue;
            var secret = setting["sensitive"]?.GetValueKind() == JsonValueKind.True || setting["kind"]?.ToString() == "password" || Sources.Redactor.IsSecretKey(name);
            if (secret)
                config[name] = "${" + EnvName(pipeline + "_" + name) + "}";
            else if (setting["value"] is { } value)
                config[name] = value.DeepClone();
            else
                config[name] = "";
        }
        return config;
    }

    private static string EnvName(string text) =>
        new(text.ToUpperInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').ToArray());
}

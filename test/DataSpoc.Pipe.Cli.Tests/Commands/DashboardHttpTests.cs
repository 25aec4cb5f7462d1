using System.Net;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Cli.Tests.Support;
using DataSpoc.Pipe.Lake;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// `ui` started for real and asked over plain HTTP: what it refuses to serve (another Host, a table outside its bucket).
/// The pages themselves are checked in a browser by <see cref="UiCommandTests"/>.
/// </summary>
public sealed class DashboardHttpTests : IDisposable
{
    private readonly TempHome _home = new();
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(60) };
    private DashboardProcess? _ui;

    public void Dispose()
    {
        _http.Dispose();
        _ui?.Dispose();
        _home.Dispose();
    }

    private async Task<(HttpStatusCode Status, string Body)> GetAsync(string path, string? host = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _ui!.Url + path);
        if (host is not null) request.Headers.Host = host;
        using var response = await _http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_request_naming_another_host_is_refused_so_no_rebound_page_can_read_the_dashboard()
    {
        _home.WriteShopPipeline("shop");
        _ui = new DashboardProcess(_home);
        var port = _ui.Port;
        foreach (var host in new[] { "attacker.example.com", $"attacker.example.com:{port}", $"127.0.0.1.attacker.example.com:{port}", $"127.0.0.1:{port + 1}", "127.0.0.1", "localhost" })
        {
            var (status, body) = await GetAsync("/", host);
            Assert.True(status is HttpStatusCode.MisdirectedRequest or HttpStatusCode.Forbidden, $"Host: {host} answered {(int)status}");
            Assert.DoesNotContain("shop", body, StringComparison.Ordinal);
            Assert.DoesNotContain("<html", body, StringComparison.OrdinalIgnoreCase);
        }
        foreach (var host in new[] { $"127.0.0.1:{port}", $"localhost:{port}", $"LocalHost:{port}", $"[::1]:{port}" })
        {
            var (status, body) = await GetAsync("/", host);
            Assert.True(status == HttpStatusCode.OK, $"Host: {host} answered {(int)status}: {body}");
            Assert.Contains("data-pipeline=\"shop\"", body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_overview_shows_every_pipeline_within_seconds_when_one_bucket_accepts_connections_but_never_answers()
    {
        // It used to wait for the S3 client's 5-minute timeout and retries: no page at all, the healthy pipeline unseen.
        using var stalled = new StalledEndpoint();
        _home.WriteShopPipeline("shop");
        _home.WriteStalledPipeline("hang", stalled);
        _ui = new DashboardProcess(_home);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (status, body) = await GetAsync("/");
        Assert.True(status == HttpStatusCode.OK, $"{(int)status}: {body}");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(45), $"the overview took {clock.Elapsed.TotalSeconds:0} s");
        Assert.Contains("data-pipeline=\"shop\"", body, StringComparison.Ordinal);
        Assert.Contains("data-pipeline=\"hang\"", body, StringComparison.Ordinal);
        Assert.Contains("bucket s3://lake-hang (endpoint " + stalled.Url + ") did not answer within 15 s", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_table_whose_manifest_location_leaves_the_bucket_is_an_error_naming_it_and_is_never_read()
    {
        var otherLake = LandShopAndAnotherLake();
        var manifestPath = Path.Combine(_home.Lake, ".dataspoc", "manifest.json");
        var manifest = JsonNode.Parse(File.ReadAllText(manifestPath))!;
        var outside = new[]
        {
            $"file://{otherLake}/raw/shop_tap/orders",
            $"file://{_home.Lake}/../other-lake/raw/shop_tap/orders",
            $"file://{_home.Lake}-sibling/raw/shop_tap/orders",
        };
        Directory.CreateDirectory(_home.Lake + "-sibling");
        _ui = new DashboardProcess(_home);
        var bucketIndex = 0; // "other" sorts before "shop", but the buckets are listed in pipeline order: find ours
        var overview = (await GetAsync("/")).Body;
        if (!overview.Contains($"<a href=\"/buckets/0\">file://{_home.Lake}<", StringComparison.Ordinal)) bucketIndex = 1;

        var (okStatus, okBody) = await GetAsync($"/buckets/{bucketIndex}/table?key=shop_tap%2Forders");
        Assert.True(okStatus == HttpStatusCode.OK, okBody);
        Assert.Equal(5, CountRows(okBody));

        foreach (var location in outside)
        {
            manifest["tables"]!["shop_tap/orders"]!["location"] = location;
            File.WriteAllText(manifestPath, manifest.ToJsonString());
            var (status, body) = await GetAsync($"/buckets/{bucketIndex}/table?key=shop_tap%2Forders");
            Assert.NotEqual(HttpStatusCode.OK, status);
            Assert.Equal(0, CountRows(body));
            Assert.Contains("shop_tap/orders", body, StringComparison.Ordinal);
            Assert.Contains(WebUtility.HtmlEncode(location), body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_symbolic_link_in_a_table_folder_that_leads_out_of_the_bucket_is_never_read_by_the_preview()
    {
        // Another lake's table, outside this bucket, holding rows the preview must not show.
        var otherLake = LandShopAndAnotherLake();
        var table = Path.Combine(_home.Lake, "raw", "shop_tap", "orders");
        var outsideTable = Path.Combine(otherLake, "raw", "shop_tap", "orders");
        _ui = new DashboardProcess(_home);
        var bucketIndex = (await GetAsync("/")).Body.Contains($"<a href=\"/buckets/0\">file://{_home.Lake}<", StringComparison.Ordinal) ? 0 : 1;
        var (okStatus, okBody) = await GetAsync($"/buckets/{bucketIndex}/table?key=shop_tap%2Forders");
        Assert.True(okStatus == HttpStatusCode.OK, okBody);
        Assert.Equal(5, CountRows(okBody));

        // Both ways a link can sit in the folder: a linked folder, and a linked file among the table's own.
        Directory.CreateSymbolicLink(Path.Combine(table, "linked-folder"), outsideTable);
        var (status, body) = await GetAsync($"/buckets/{bucketIndex}/table?key=shop_tap%2Forders");
        Assert.NotEqual(HttpStatusCode.OK, status);
        Assert.Equal(0, CountRows(body));
        Assert.Contains("symbolic link", body, StringComparison.Ordinal);
        Directory.Delete(Path.Combine(table, "linked-folder"));

        var outsideFile = Directory.EnumerateFiles(outsideTable, "*.parquet", SearchOption.AllDirectories).First();
        File.CreateSymbolicLink(Path.Combine(table, "linked.parquet"), outsideFile);
        (status, body) = await GetAsync($"/buckets/{bucketIndex}/table?key=shop_tap%2Forders");
        Assert.NotEqual(HttpStatusCode.OK, status);
        Assert.Equal(0, CountRows(body));
        Assert.Contains("linked.parquet", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_preview_of_an_iceberg_table_shows_the_rows_it_holds_now_not_those_a_full_refresh_replaced()
    {
        string Pipeline(int rows) => _home.WritePipeline("shop", $$"""
            source:
              tap: {{CliProcess.ShopTap}}
              config: {rows: {{rows}}}
            destination:
              bucket: {{_home.Bucket}}
              path: raw
              table_format: iceberg
            """);
        foreach (var rows in new[] { 5, 2 })
        {
            Pipeline(rows);
            var run = CliProcess.Run(_home, "run", "shop");
            Assert.True(run.ExitCode == 0, run.ToString());
        }
        // The replaced run's files stay in the folder (for time travel, until maintain expires them).
        Assert.Equal(2, Directory.GetFiles(Path.Combine(_home.Lake, "raw", "shop_tap", "orders"), "*.parquet", SearchOption.AllDirectories).Length);
        _ui = new DashboardProcess(_home);
        var (status, body) = await GetAsync("/buckets/0/table?key=shop_tap%2Forders");
        Assert.True(status == HttpStatusCode.OK, body);
        Assert.Equal(2, CountRows(body));
        Assert.Contains("first 2 of 2 rows", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_long_value_in_the_preview_is_cut_and_says_its_full_length()
    {
        var file = Path.Combine(_home.Root, "notes.jsonl");
        File.WriteAllText(file, "{\"id\":1,\"note\":\"" + new string('x', 100_000) + "\"}\n");
        var body = await TablePageOfJsonlAsync("notes", file);
        Assert.Equal(1, CountRows(body));
        Assert.Contains(new string('x', 200), body, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('x', 201), body, StringComparison.Ordinal);
        Assert.Contains("100,000 characters", body, StringComparison.Ordinal);
    }

    /// <summary>
    /// A 2 MB value of words joined by '-' (each letter once made the masking's patterns scan to the value's end: the
    /// page took hours) is shown cut, within the client's timeout; a known secret and a URI's password that straddle the
    /// cut are masked whole, not shown in part.
    /// </summary>
    [Fact]
    public async Task A_megabytes_long_value_is_previewed_promptly_and_a_secret_across_the_cut_stays_masked()
    {
        const string secret = "Straddle-S3cret-41q";
        const string uriPassword = "UriPassw0rdAcrossTheCut";
        _home.Set("ZZ_TOKEN", secret);
        var filler = string.Concat(Enumerable.Repeat("a-", 1_000_000));
        var file = Path.Combine(_home.Root, "big.jsonl");
        File.WriteAllText(file,
            $"{{\"id\":1,\"note\":\"{new string('x', 190)}{secret}{filler}\"}}\n" +
            $"{{\"id\":2,\"note\":\"{new string('y', 180)}postgres://u:{uriPassword}@db {filler}\"}}\n");
        var body = await TablePageOfJsonlAsync("big", file, ", storage_options: {password: \"${ZZ_TOKEN}\"}");
        Assert.Equal(2, CountRows(body));
        Assert.Contains(new string('x', 190) + "***a-a-", body, StringComparison.Ordinal);
        Assert.Contains("postgres://u:***@db", body, StringComparison.Ordinal);
        Assert.DoesNotContain(secret[..4], body, StringComparison.Ordinal);
        Assert.DoesNotContain(uriPassword[..4], body, StringComparison.Ordinal);
    }

    /// <summary>
    /// Two pipelines write one bucket; only the one that sorts last knows the secret (a <c>${VAR}</c> of the environment),
    /// its rows hold it and its stream is named after it. The bucket page, the preview and their titles mask it in
    /// every form, whichever pipeline comes first, and the masked link still opens the table.
    /// </summary>
    [Fact]
    public async Task A_bucket_shared_by_pipelines_is_masked_with_the_secrets_of_every_pipeline_that_writes_to_it()
    {
        const string secret = "EnvOnly-S3cret-77x";
        _home.Set("ZZ_TOKEN", secret);
        var data = Path.Combine(_home.Root, "zz-data");
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, "rows.jsonl"), $"{{\"id\":1,\"pw\":\"{secret}\"}}\n{{\"id\":2,\"pw\":\"{secret}\"}}\n");
        _home.WriteShopPipeline("aaa");
        // The stream is named after a value the config also states in clear (as tap-postgres names streams after a dbname;
        // a built-in tap reads only the keys it knows, so here under storage_options, which a local path does not use).
        _home.WritePipeline("zzz", $$"""
            source:
              tap: jsonl
              config:
                path: {{data}}
                storage_options: {region: "${ZZ_TOKEN}", password: "${ZZ_TOKEN}"}
                streams: [{name: "t_${ZZ_TOKEN}", pattern: "*.jsonl"}]
            destination:
              bucket: {{_home.Bucket}}
              path: raw
            """);
        foreach (var name in new[] { "aaa", "zzz" })
        {
            var run = CliProcess.Run(_home, "run", name);
            Assert.True(run.ExitCode == 0, run.ToString());
        }
        _ui = new DashboardProcess(_home);
        var (bucketStatus, tables) = await GetAsync("/buckets/0");
        Assert.True(bucketStatus == HttpStatusCode.OK, tables);
        Assert.Contains(">jsonl/***</a>", tables, StringComparison.Ordinal); // the whole name came from a ${VAR}
        var link = System.Text.RegularExpressions.Regex.Match(tables, "href=\"(/buckets/0/table\\?key=jsonl[^\"]+)\"").Groups[1].Value;
        var (status, preview) = await GetAsync(WebUtility.HtmlDecode(link));
        Assert.True(status == HttpStatusCode.OK, preview);
        Assert.Equal(2, CountRows(preview));
        Assert.Contains("<td>***</td>", preview, StringComparison.Ordinal);
        Assert.Contains("<title>", preview, StringComparison.Ordinal);
        foreach (var page in new[] { tables, preview, (await GetAsync("/")).Body })
            foreach (var form in DataSpoc.Pipe.Tests.Support.SecretForms.Of(secret).Concat(DataSpoc.Pipe.Tests.Support.SecretForms.EncodedOf(secret)))
                Assert.DoesNotContain(form, page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_page_of_a_pipeline_of_hundreds_of_streams_stays_small_and_each_runs_streams_are_on_its_own_page()
    {
        // 14 runs of 400 streams: the page embedded every log whole (1.46 MB for a tester's pipeline of this size).
        _home.WriteShopPipeline("big");
        var start = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        for (var run = 0; run < 14; run++)
        {
            var log = new RunLog
            {
                Pipeline = "big", RunId = $"run{run:00}", StartedAt = start.AddHours(run), FinishedAt = start.AddHours(run).AddMinutes(1),
                DurationSeconds = 60, Status = "success", Mode = "incremental", TotalRecords = 400 * (run + 1), StateCommitted = true,
            };
            for (var stream = 0; stream < 400; stream++)
                log.Streams[$"public-table_{stream:000}"] = new RunLogStream { Records = run + 1, Files = 1, Bytes = 4096 };
            _home.WriteRunLog(log);
        }
        _ui = new DashboardProcess(_home);

        var (status, page) = await GetAsync("/pipelines/big");
        Assert.True(status == HttpStatusCode.OK, page);
        Assert.Equal(14, page.Split("<tr class=\"run\">").Length - 1);
        Assert.True(page.Length < 100_000, $"the page of 14 runs is {page.Length:N0} characters");
        Assert.DoesNotContain("public-table_", page, StringComparison.Ordinal);

        var link = System.Text.RegularExpressions.Regex.Match(page, "href=\"(/pipelines/big/runs/run05)\"").Groups[1].Value;
        Assert.NotEqual("", link);
        var (runStatus, run5) = await GetAsync(link);
        Assert.True(runStatus == HttpStatusCode.OK, run5);
        Assert.Equal(400, run5.Split("<tr class=\"stream\"").Length - 1);
        Assert.Contains("<td>public-table_399</td><td class=\"num\">6</td>", run5, StringComparison.Ordinal);
        Assert.Contains("2,400 records", run5, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("/pipelines/big/runs/no-such-run")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("/pipelines/nope/runs/run05")).Status);
    }

    [Fact]
    public async Task The_records_chart_and_the_runs_table_count_the_rows_of_a_killed_runs_commit_for_the_run_that_landed_them()
    {
        // The killed run wrote no log: its 100 rows were landed by the next run's recovery, and counted nowhere on the page.
        _home.WriteShopPipeline("shop");
        var start = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        foreach (var (run, own, recovered) in new[] { ("first", 40L, (RecoveredCommit?)null), ("after-kill", 50L, new RecoveredCommit("killed", 100, 2, new(StringComparer.Ordinal))) })
        {
            start = start.AddHours(1);
            _home.WriteRunLog(new RunLog
            {
                Pipeline = "shop", RunId = run, StartedAt = start, FinishedAt = start.AddMinutes(1), DurationSeconds = 60,
                Status = "success", Mode = "incremental", TotalRecords = own, Recovered = recovered,
            });
        }
        _ui = new DashboardProcess(_home);

        var (status, page) = await GetAsync("/pipelines/shop");
        Assert.True(status == HttpStatusCode.OK, page);
        var points = System.Text.RegularExpressions.Regex.Matches(page, "<circle class=\"point records[^>]*><title>([^<]*)</title>").Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)).ToList();
        Assert.Equal(["2026-12-01 01:00:00Z success: 40", "2026-12-01 02:00:00Z success: 150 (100 recovered from run killed)"], points);
        Assert.Contains("records landed per run (max 150)", page, StringComparison.Ordinal);
        Assert.Contains("<td class=\"num recovered\">100 (run killed)</td>", page, StringComparison.Ordinal);
        Assert.Contains("<td class=\"num recovered\">-</td>", page, StringComparison.Ordinal);
        Assert.Contains("50 records (100 recovered from run killed)", (await GetAsync("/pipelines/shop/runs/after-kill")).Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_file_whose_name_is_no_pipeline_name_is_shown_by_its_file_on_the_overview_without_a_link()
    {
        // pipelines/.yaml (what `add "$NAME"` leaves when the variable is empty) was a row with a blank name linking nowhere.
        _home.WriteShopPipeline("shop");
        File.WriteAllText(Path.Combine(_home.Pipelines, ".yaml"), "source:\n  tap: csv\ndestination:\n  bucket: file:///tmp/x\n");
        _ui = new DashboardProcess(_home);
        var (status, page) = await GetAsync("/");
        Assert.True(status == HttpStatusCode.OK, page);
        Assert.Contains($"<tr class=\"pipeline\" data-pipeline=\"\"><td>{WebUtility.HtmlEncode(Path.Combine("pipelines", ".yaml"))}</td>", page, StringComparison.Ordinal);
        Assert.DoesNotContain("href=\"/pipelines/\"", page, StringComparison.Ordinal);
        Assert.Contains("<a href=\"/pipelines/shop\">shop</a>", page, StringComparison.Ordinal);
    }

    /// <summary>Lands pipeline "shop" (5 rows, the home's lake) and "other" (3 rows, a lake beside it); returns the other lake's folder.</summary>
    private string LandShopAndAnotherLake()
    {
        var otherLake = Path.Combine(_home.Root, "other-lake");
        _home.WriteShopPipeline("shop");
        _home.WritePipeline("other", $$"""
            source:
              tap: {{CliProcess.ShopTap}}
              config: {rows: 3}
            destination:
              bucket: file://{{otherLake}}
              path: raw
            """);
        foreach (var name in new[] { "shop", "other" })
        {
            var run = CliProcess.Run(_home, "run", name);
            Assert.True(run.ExitCode == 0, run.ToString());
        }
        return otherLake;
    }

    private static int CountRows(string html) => html.Split("<tr class=\"row\">").Length - 1;

    /// <summary>
    /// Lands <paramref name="file"/> with the jsonl tap as pipeline <paramref name="name"/> (<paramref name="extraConfig"/>
    /// appended to its tap config), starts the dashboard and returns its page of the one table, which must answer 200.
    /// </summary>
    private async Task<string> TablePageOfJsonlAsync(string name, string file, string extraConfig = "")
    {
        _home.WritePipeline(name, $$"""
            source:
              tap: jsonl
              config: {files: ["{{file}}"]{{extraConfig}}}
            destination:
              bucket: {{_home.Bucket}}
              path: raw
            """);
        var run = CliProcess.Run(_home, "run", name);
        Assert.True(run.ExitCode == 0, run.ToString());
        _ui = new DashboardProcess(_home);
        var tables = (await GetAsync("/buckets/0")).Body;
        var link = System.Text.RegularExpressions.Regex.Match(tables, "href=\"(/buckets/0/table\\?key=[^\"]+)\"").Groups[1].Value;
        var (status, body) = await GetAsync(WebUtility.HtmlDecode(link));
        Assert.True(status == HttpStatusCode.OK, body);
        return body;
    }
}

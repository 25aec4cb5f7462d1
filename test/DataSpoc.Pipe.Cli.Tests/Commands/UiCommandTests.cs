using System.Text;
using DataSpoc.Pipe.Cli.Tests.Support;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// `ui` started for real on a free loopback port and driven in Debian's headless Chromium through chromedriver
/// (installed by .ci/setup): pages load without console errors, list the home's pipelines, and the charts draw one
/// point per run. DATASPOC_PIPE_UPDATE_SCREENSHOTS=1 copies the screenshots into docs/ for the README.
/// </summary>
public sealed class UiCommandTests : IDisposable
{
    private const string Token = "tok-SECRET-4711";
    private readonly TempHome _home = new();
    private DashboardProcess? _ui;
    private ChromeDriver? _browser;

    public void Dispose()
    {
        _browser?.Quit();
        _ui?.Dispose();
        _home.Dispose();
    }

    private void WriteShop(int rows) => _home.WritePipeline("shop", $"""
        source:
          tap: {CliProcess.ShopTap}
          config: {"{"}rows: {rows}, api_token: "${"{"}SHOP_TOKEN{"}"}"{"}"}
        destination:
          bucket: {_home.Bucket}
          path: raw
        schedule:
          cron: "0 3 * * *"
        """);

    private string StartUi()
    {
        _ui = new DashboardProcess(_home);
        return _ui.Url;
    }

    private static ChromeDriver Browser(string profile)
    {
        Assert.True(File.Exists("/usr/bin/chromium") && File.Exists("/usr/bin/chromedriver"), "install chromium and chromium-driver (.ci/setup)");
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--window-size=1280,900", "--user-data-dir=" + profile);
        options.SetLoggingPreference(LogType.Browser, OpenQA.Selenium.LogLevel.All);
        var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.SuppressInitialDiagnosticInformation = true;
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    private void AssertNoConsoleErrors(string page)
    {
        var errors = _browser!.Manage().Logs.GetLog(LogType.Browser).Where(e => e.Level >= OpenQA.Selenium.LogLevel.Warning).ToList();
        Assert.True(errors.Count == 0, $"console errors on {page}:\n" + string.Join("\n", errors.Select(e => $"{e.Level} {e.Message}")));
    }

    private void Screenshot(string name)
    {
        var shot = ((ITakesScreenshot)_browser!).GetScreenshot();
        var path = Path.Combine(_home.Root, name);
        shot.SaveAsFile(path);
        Assert.True(new FileInfo(path).Length > 1000);
        if (Environment.GetEnvironmentVariable("DATASPOC_PIPE_UPDATE_SCREENSHOTS") == "1")
            File.Copy(path, Path.Combine(CliProcess.RepoRoot, "docs", name), overwrite: true);
    }

    [Fact]
    public void The_dashboard_shows_the_pipelines_a_point_per_run_the_logs_and_the_tables_without_console_errors()
    {
        _home.Set("SHOP_TOKEN", Token);
        foreach (var perStream in new[] { 2, 4, 6 })
        {
            WriteShop(perStream);
            var run = CliProcess.Run(_home, "run", "shop");
            Assert.True(run.ExitCode == 0, run.ToString());
        }
        _home.WriteShopPipeline("broken", tapArgs: " --fail");
        Assert.Equal(1, CliProcess.Run(_home, "run", "broken").ExitCode);
        _home.WriteShopPipeline("later");
        // The next run shown is the one cron makes: shop's crontab line is installed.
        Assert.Equal(0, CliProcess.Run(_home, "schedule", "install").ExitCode);

        var url = StartUi();
        _browser = Browser(Path.Combine(_home.Root, "chrome-profile"));

        _browser.Navigate().GoToUrl(url + "/");
        var rows = _browser.FindElements(By.CssSelector("#pipelines tr.pipeline"))
            .ToDictionary(r => r.GetAttribute("data-pipeline")!, r => r.FindElement(By.CssSelector("td.status")).Text);
        Assert.Equal(new Dictionary<string, string> { ["broken"] = "failure", ["later"] = "never run", ["shop"] = "success" }, rows);
        Assert.Contains("03:00:00Z", _browser.FindElement(By.CssSelector("#pipelines tr[data-pipeline='shop']")).Text);
        AssertNoConsoleErrors("/");
        Screenshot("dashboard-pipelines.png");

        _browser.FindElement(By.LinkText("shop")).Click();
        var records = _browser.FindElements(By.CssSelector("svg.chart.records circle.point"));
        var durations = _browser.FindElements(By.CssSelector("svg.chart.duration circle.point"));
        Assert.Equal((3, 3), (records.Count, durations.Count));
        // 2, 4 and 6 rows per stream, oldest left: each point higher (smaller y) than the one before.
        var heights = records.Select(c => double.Parse(c.GetAttribute("cy")!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(heights[0] > heights[1] && heights[1] > heights[2], string.Join(", ", heights));
        Assert.Equal(3, _browser.FindElements(By.CssSelector("#runs tr.run")).Count);
        AssertNoConsoleErrors("/pipelines/shop");
        Screenshot("dashboard-pipeline.png");
        Assert.DoesNotContain(Token, _browser.PageSource);

        // A run's streams are on its own page, linked from its row (newest first): 6 rows per stream in the last run.
        _browser.FindElement(By.CssSelector("#runs tr.run a")).Click();
        var streams = _browser.FindElements(By.CssSelector("#streams tr.stream"))
            .ToDictionary(r => r.GetAttribute("data-stream")!, r => r.FindElements(By.TagName("td"))[1].Text);
        Assert.Equal(new Dictionary<string, string> { ["customers"] = "6", ["orders"] = "6" }, streams);
        AssertNoConsoleErrors("a run of shop");
        Assert.DoesNotContain(Token, _browser.PageSource);

        _browser.Navigate().GoToUrl(url + "/pipelines/broken");
        Assert.Contains("the tap exited with code 3", _browser.FindElement(By.Id("runs")).Text);
        Assert.Single(_browser.FindElements(By.CssSelector("svg.chart.records circle.point.failure")));
        AssertNoConsoleErrors("/pipelines/broken");

        _browser.Navigate().GoToUrl(url + "/");
        _browser.FindElement(By.CssSelector("#buckets a")).Click();
        var tables = _browser.FindElements(By.CssSelector("#tables tr.table")).Select(r => r.FindElement(By.TagName("a")).Text).ToList();
        Assert.Equal(["shop_tap/customers", "shop_tap/orders"], tables);
        var orders = _browser.FindElements(By.CssSelector("#tables tr.table"))[1].FindElements(By.TagName("td"));
        Assert.Contains("amount", orders[2].Text);
        Assert.Equal("6", orders[3].Text); // not incremental: the last run replaced the table
        AssertNoConsoleErrors("bucket");
        Screenshot("dashboard-tables.png");

        _browser.FindElement(By.LinkText("shop_tap/orders")).Click();
        var preview = _browser.FindElements(By.CssSelector("#rows tr.row"));
        Assert.Equal(6, preview.Count);
        Assert.Equal(["1", "1.5"], preview[0].FindElements(By.TagName("td")).Take(2).Select(c => c.Text));
        AssertNoConsoleErrors("table");
        Assert.DoesNotContain(Token, _browser.PageSource);
    }
}

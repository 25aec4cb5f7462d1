using System.Net;
using DataSpoc.Pipe.Cli.Tests.Support;

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
}

using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Tests.Support;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>The sheet export is served by a real HTTP server on 127.0.0.1, as Google would serve it.</summary>
public sealed class GoogleSheetsPublicTapTests : IDisposable
{
    private readonly TapHarness _h = new();
    private readonly HttpListener _listener;
    private readonly Task _serving;
    private readonly List<string> _requests = [];
    private readonly string _base;

    private const string SheetCsv = "Name,Age,Joined,Score\r\nAnn,31,2024-01-02,9.5\r\n\"Bo, Jr.\",,2023-12-31,10\r\n";

    public GoogleSheetsPublicTapTests()
    {
        (_listener, var port) = LoopbackHttp.StartOnFreePort();
        _base = $"http://127.0.0.1:{port}/";
        _serving = Task.Run(ServeAsync);
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
            var url = context.Request.Url!.PathAndQuery;
            lock (_requests) _requests.Add(url);
            var ok = url == "/d/SHEET123/export?format=csv&gid=77";
            context.Response.StatusCode = ok ? 200 : 404;
            context.Response.ContentType = ok ? "text/csv" : "text/plain";
            var body = Encoding.UTF8.GetBytes(ok ? SheetCsv : "no such sheet");
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        // Close alone: on Unix, Stop() then Close() releases the port and binds it again for a moment, which fails
        // ("Address already in use") when another test took the port in between.
        _listener.Close();
        _serving.Wait(TimeSpan.FromSeconds(5));
        _h.Dispose();
    }

    [Fact]
    public async Task A_public_sheet_export_is_fetched_typed_and_emitted_as_one_stream()
    {
        var config = new JsonObject
        {
            ["url"] = "https://docs.google.com/spreadsheets/d/SHEET123/edit#gid=77",
            ["stream_name"] = "members",
            ["key_properties"] = new JsonArray("Name"),
            ["export_base_url"] = _base + "d",
        };
        var output = await _h.SyncAsync("google-sheets-public", config);
        Assert.Equal(["/d/SHEET123/export?format=csv&gid=77"], _requests);
        var p = output.Schemas["members"]["properties"]!;
        Assert.Equal("""["null","integer"]""", p["Age"]!["type"]!.ToJsonString());
        Assert.Equal("date", (string)p["Joined"]!["format"]!);
        Assert.Equal("""["null","number"]""", p["Score"]!["type"]!.ToJsonString());
        Assert.Equal(["Name"], output.KeyProperties["members"]);
        var rows = output.Records("members").ToList();
        Assert.Equal("""{"Name":"Ann","Age":31,"Joined":"2024-01-02","Score":9.5}""", SingerOutput.Json(rows[0]));
        Assert.Equal("""{"Name":"Bo, Jr.","Age":null,"Joined":"2023-12-31","Score":10}""", SingerOutput.Json(rows[1]));
        Assert.Contains(output.Messages, m => (string)m["type"]! == "ACTIVATE_VERSION");
    }

    [Fact]
    public async Task A_sheet_that_is_not_served_fails_with_the_status_and_a_hint()
    {
        var config = new JsonObject { ["sheet_id"] = "MISSING", ["gid"] = 0, ["export_base_url"] = _base + "d" };
        var stderr = await _h.FailAsync("google-sheets-public", config);
        Assert.Contains("/d/MISSING/export?format=csv&gid=0 answered 404", stderr);
        Assert.Contains("anyone with the link", stderr);
    }
}

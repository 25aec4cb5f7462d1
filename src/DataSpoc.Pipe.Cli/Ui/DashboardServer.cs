using System.Net;
using DataSpoc.Pipe.Config;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DataSpoc.Pipe.Cli.Ui;

/// <summary>
/// The dashboard's web server: ASP.NET Core's slim builder (Native AOT-clean: plain request delegates, no reflection
/// binding), Kestrel on 127.0.0.1 only, GET pages only, for a loopback Host only. Pages carry a Content-Security-Policy
/// that allows no script and no network but the page itself.
/// </summary>
internal static class DashboardServer
{
    public static async Task<WebApplication> StartAsync(DashboardPages pages, int port, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        app.Use(async (context, next) =>
        {
            context.Response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";
            context.Response.Headers.XContentTypeOptions = "nosniff";
            if (!IsLoopbackHost(context.Request.Host, context.Connection.LocalPort))
            {
                context.Response.StatusCode = StatusCodes.Status421MisdirectedRequest;
                context.Response.ContentType = "text/plain; charset=utf-8";
                await context.Response.WriteAsync($"this dashboard answers only to 127.0.0.1, localhost and [::1] on port {context.Connection.LocalPort}\n", context.RequestAborted);
                return;
            }
            if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
            {
                context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
                return;
            }
            await next(context);
        });
        app.MapGet("/", (RequestDelegate)(c => SendAsync(c, pages.OverviewAsync(c.RequestAborted))));
        app.MapGet("/pipelines/{name}", (RequestDelegate)(c => SendAsync(c, PipelineOrNullAsync(pages, (string)c.Request.RouteValues["name"]!, c.RequestAborted))));
        app.MapGet("/pipelines/{name}/runs/{run}", (RequestDelegate)(c => SendAsync(c, pages.RunAsync((string)c.Request.RouteValues["name"]!, (string)c.Request.RouteValues["run"]!, c.RequestAborted))));
        app.MapGet("/buckets/{index:int}", (RequestDelegate)(c => SendAsync(c, pages.BucketAsync(Index(c), c.RequestAborted))));
        app.MapGet("/buckets/{index:int}/table", (RequestDelegate)(c => SendAsync(c, pages.TableAsync(Index(c), c.Request.Query["key"].ToString(), c.RequestAborted))));
        await app.StartAsync(cancellationToken);
        return app;
    }

    /// <summary>The address Kestrel listens on (the real port when 0 was asked for).</summary>
    public static string Address(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    /// <summary>
    /// Listening on 127.0.0.1 is not enough: a web page the user visits can rebind its own DNS name to 127.0.0.1 and
    /// then read our pages as same-origin, but its requests still carry its name in <c>Host</c>. So only the loopback
    /// names, on the port we listen on (or none when that port is 80, as browsers leave it out), are served.
    /// </summary>
    private static bool IsLoopbackHost(HostString host, int listeningPort)
    {
        var name = host.Host;
        var loopback = name.Equals("127.0.0.1", StringComparison.Ordinal) || name.Equals("localhost", StringComparison.OrdinalIgnoreCase) ||
            name.Equals("[::1]", StringComparison.Ordinal);
        return loopback && (host.Port ?? 80) == listeningPort;
    }

    private static int Index(HttpContext c) => int.Parse((string)c.Request.RouteValues["index"]!, System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<string?> PipelineOrNullAsync(DashboardPages pages, string name, CancellationToken cancellationToken)
    {
        try { return await pages.PipelineAsync(name, cancellationToken); }
        catch (ConfigException) { return null; }
    }

    private static async Task SendAsync(HttpContext context, Task<string?> page)
    {
        string? html;
        try
        {
            html = await page;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A bucket that cannot be read (credentials, network) is a page with the reason, not a dead server. Messages
            // from the engine name files and keys, never secret values.
            context.Response.StatusCode = StatusCodes.Status502BadGateway;
            html = Html.Page("error", "<h2>could not read</h2><pre>" + Html.Encode(e.Message) + "</pre>");
        }
        if (html is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            html = Html.Page("not found", "<h2>not found</h2>");
        }
        context.Response.ContentType = "text/html; charset=utf-8";
        await context.Response.WriteAsync(html, context.RequestAborted);
    }
}

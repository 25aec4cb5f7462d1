using System.Text;
using DataSpoc.Pipe.Sources.BuiltIn;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>The CLI's view of the built-in taps (csv, jsonl, postgres, …) shipped in the engine.</summary>
internal static class BuiltIns
{
    public static IReadOnlyCollection<string> Names => BuiltInTaps.Names;

    /// <summary>Runs a built-in tap's discovery in-process, the same code <c>dataspoc-pipe tap &lt;name&gt; --discover</c> runs.</summary>
    public static async Task<TapInvoker.Result> DiscoverAsync(string name, string configPath, CancellationToken cancellationToken)
    {
        using var stdout = new MemoryStream();
        using var stderr = new StringWriter();
        var code = await BuiltInTapCommand.RunAsync(name, configPath, null, null, discover: true, stdout, stderr, cancellationToken, Stores.Create());
        return new TapInvoker.Result(code, Encoding.UTF8.GetString(stdout.ToArray()), stderr.ToString());
    }
}

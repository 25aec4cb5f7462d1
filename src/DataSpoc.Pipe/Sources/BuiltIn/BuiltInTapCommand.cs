using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// <c>dataspoc-pipe tap &lt;name&gt; --config c.json [--state s.json] [--catalog k.json] [--discover]</c>:
/// runs a built-in tap as a standalone Singer tap, messages on stdout, errors and notices on stderr.
/// </summary>
public static class BuiltInTapCommand
{
    /// <summary>Returns the exit code: 0 on success, 1 when the tap failed, 2 for an unknown tap, a missing config or one the tap cannot use (as <c>run</c> exits).</summary>
    public static async Task<int> RunAsync(string name, string? configPath, string? statePath, string? catalogPath, bool discover,
        Stream stdout, TextWriter stderr, CancellationToken cancellationToken, ObjectStoreFactory? stores = null)
    {
        if (!BuiltInTaps.TryGet(name, stores ?? new ObjectStoreFactory(), out var tap))
        {
            await stderr.WriteLineAsync($"error: unknown built-in tap '{name}'; built-in taps: {string.Join(", ", BuiltInTaps.Names)}").ConfigureAwait(false);
            return 2;
        }
        if (configPath is null)
        {
            await stderr.WriteLineAsync($"error: {name} tap: --config <file> is required").ConfigureAwait(false);
            return 2;
        }
        try
        {
            var config = (await BuiltInTapInputs.ReadObjectAsync(configPath, "config", cancellationToken).ConfigureAwait(false))!;
            if (discover)
            {
                await tap.DiscoverAsync(config, stdout, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var state = await BuiltInTapInputs.ReadObjectAsync(statePath, "state", cancellationToken).ConfigureAwait(false);
                var catalog = await BuiltInTapInputs.ReadObjectAsync(catalogPath, "catalog", cancellationToken).ConfigureAwait(false);
                if (tap is ITypedBuiltInTap typed) await typed.SyncAsJsonAsync(config, state, catalog, stdout, cancellationToken, notices: stderr).ConfigureAwait(false);
                else await tap.SyncAsync(config, state, catalog, stdout, cancellationToken).ConfigureAwait(false);
            }
            await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await stderr.WriteLineAsync($"{name} tap: cancelled").ConfigureAwait(false);
            return 1;
        }
        catch (Exception e)
        {
            await stderr.WriteLineAsync(BuiltInTapErrors.Describe(name, e)).ConfigureAwait(false);
            return BuiltInTapErrors.StoppedOnConfiguration(e) ? 2 : 1;
        }
    }
}

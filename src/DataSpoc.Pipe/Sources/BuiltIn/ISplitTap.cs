using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// A built-in tap that reads one table as key ranges (<c>source.split</c>). Its config then carries the split under
/// <c>dataspoc_split</c>; for the workers of a split run, the plan they share comes from <see cref="PlanSplitAsync"/>.
/// </summary>
public interface ISplitTap : IBuiltInTap
{
    /// <summary>Plans the key ranges of the selected table (the same config, state and catalog as <see cref="IBuiltInTap.SyncAsync"/>).</summary>
    Task<JsonObject> PlanSplitAsync(JsonObject config, JsonObject? state, JsonObject? catalog, CancellationToken cancellationToken);
}

using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Failures;

/// <summary>Pipelines whose tap is Assets/scripted_tap.py, told by its config how to misbehave.</summary>
internal static class ScriptedTap
{
    public static string Command => "python3 " + TempLake.Asset("scripted_tap.py");

    public static PipelineDefinition Pipeline(TempLake lake, string name, JsonObject config, Func<PipelineDefinition, PipelineDefinition>? change = null)
    {
        var p = new PipelineDefinition
        {
            Name = name,
            Source = new SourceDefinition { Tap = Command, InlineConfig = config, Name = "test" },
            Destination = new DestinationDefinition { Bucket = lake.Bucket },
            Incremental = new IncrementalSettings { Enabled = true },
        };
        return change is null ? p : change(p);
    }
}

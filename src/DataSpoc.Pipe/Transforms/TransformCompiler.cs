using DataSpoc.Pipe.Config;

namespace DataSpoc.Pipe.Transforms;

/// <summary>Compiles a pipeline's declarative <c>transforms:</c> into record transforms.</summary>
internal static class TransformCompiler
{
    public static IReadOnlyList<IRecordTransform> Compile(PipelineDefinition pipeline)
    {
        if (pipeline.Transforms.Count > 0)
            throw new NotSupportedException("declarative transforms are not available in this build yet");
        return [];
    }
}

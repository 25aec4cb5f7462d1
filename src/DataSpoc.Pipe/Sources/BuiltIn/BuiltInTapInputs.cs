using System.Text.Json;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// Reads a built-in tap's config, state and catalog files, with errors that name the file: each a configuration error
/// (<see cref="TapException.Configuration(string)"/>, exit 2), as <c>run</c>'s tap config file it cannot read is.
/// </summary>
internal static class BuiltInTapInputs
{
    public static async Task<JsonObject?> ReadObjectAsync(string? path, string what, CancellationToken cancellationToken)
    {
        if (path is null) return null;
        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw TapException.Configuration($"cannot read the {what} file '{path}': {e.Message}", e);
        }
        try
        {
            return JsonNode.Parse(bytes, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }) as JsonObject
                   ?? throw TapException.Configuration($"the {what} file '{path}' must hold a JSON object");
        }
        catch (JsonException e)
        {
            throw TapException.Configuration($"the {what} file '{path}' is not valid JSON (line {e.LineNumber + 1}): {e.Message.Split(" Path:")[0]}", e);
        }
    }
}

using System.Diagnostics;
using System.Runtime.InteropServices;

namespace DataSpoc.Pipe.Api.Tests;

/// <summary>
/// README's "From .NET code" example compiles as written, against this build of the library: it is what a user copies
/// first. Compiled with the SDK's own C# compiler (csc.dll, a few seconds), as a console project with the SDK's
/// implicit usings would; only what the README leaves to the reader (<c>schema</c>, <c>ReadEventsAsync</c>) is supplied.
/// </summary>
public sealed class ReadmeExampleTests : IDisposable
{
    private readonly TempHome _work = new();

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task The_from_dotnet_code_example_compiles_with_its_own_usings()
    {
        var example = Path.Combine(_work.Root, "Program.cs");
        File.WriteAllText(example, CSharpBlockUnder("## From .NET code"));
        var givens = Path.Combine(_work.Root, "Givens.cs");
        File.WriteAllText(givens, """
            // A console project's implicit usings (ImplicitUsings), and what the README leaves to the reader.
            global using System;
            global using System.Collections.Generic;
            global using System.IO;
            global using System.Linq;
            global using System.Net.Http;
            global using System.Threading;
            global using System.Threading.Tasks;
            global using static Givens;
            using System.Text.Json.Nodes;

            static class Givens
            {
                public static JsonObject schema => new() { ["type"] = "object" };
                public static async IAsyncEnumerable<JsonObject> ReadEventsAsync() { await Task.CompletedTask; yield break; }
            }
            """);
        var dotnetRoot = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var csc = Directory.GetFiles(Path.Combine(dotnetRoot, "sdk"), "csc.dll", SearchOption.AllDirectories)
            .Where(f => f.Contains($"{Path.DirectorySeparatorChar}Roslyn{Path.DirectorySeparatorChar}bincore{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .OrderBy(f => f, StringComparer.Ordinal).Last();
        var runtime = Environment.Version;
        var refs = Directory.GetDirectories(Path.Combine(dotnetRoot, "packs", "Microsoft.NETCore.App.Ref"), $"{runtime.Major}.{runtime.Minor}.*")
            .Select(d => Path.Combine(d, "ref", $"net{runtime.Major}.{runtime.Minor}")).Where(Directory.Exists).OrderBy(d => d, StringComparer.Ordinal).Last();
        var args = new List<string> { "-nologo", "-target:exe", "-langversion:latest", "-out:" + Path.Combine(_work.Root, "example.dll"), example, givens,
            "-reference:" + Path.Combine(AppContext.BaseDirectory, "DataSpoc.Pipe.dll") };
        args.AddRange(Directory.GetFiles(refs, "*.dll").Select(r => "-reference:" + r));
        var rsp = Path.Combine(_work.Root, "csc.rsp");
        File.WriteAllLines(rsp, args.Select(a => $"\"{a}\""));

        using var process = Process.Start(new ProcessStartInfo(Path.Combine(dotnetRoot, "dotnet"), ["exec", csc, "@" + rsp])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"README's example does not compile:\n{await output}{errors}");
    }

    /// <summary>The first <c>```csharp</c> block after <paramref name="heading"/> in README.md.</summary>
    private static string CSharpBlockUnder(string heading)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DataSpoc.Pipe.slnx"))) dir = dir.Parent;
        var readme = File.ReadAllText(Path.Combine(dir?.FullName ?? throw new InvalidOperationException("no DataSpoc.Pipe.slnx above the test folder"), "README.md"));
        var section = readme.IndexOf("\n" + heading + "\n", StringComparison.Ordinal);
        Assert.True(section >= 0, $"README.md has no '{heading}' section");
        var start = readme.IndexOf("```csharp\n", section, StringComparison.Ordinal) + "```csharp\n".Length;
        return readme[start..readme.IndexOf("\n```", start, StringComparison.Ordinal)];
    }
}

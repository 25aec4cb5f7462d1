using System.Text;
using DataSpoc.Pipe.Sources;

namespace DataSpoc.Pipe.Tests.Sources;

/// <summary>The pipe a tap writes its messages into.</summary>
public class TapPipeTests
{
    [Fact]
    public async Task A_taps_stdout_pipe_holds_a_megabyte_and_still_delivers_every_byte()
    {
        // 3 MB through the pipe: more than the enlarged buffer, so the tap blocks and resumes along the way.
        var tap = new TapProcess(["sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' 'x'; printf '\\nend\\n'"], new Redactor([]));
        await using var run = await tap.StartAsync(new SourceInvocation(), CancellationToken.None);

        if (OperatingSystem.IsLinux()) Assert.Equal(PipeCapacity.Bytes, PipeCapacity.Of(run.Output));
        using var copy = new MemoryStream();
        await run.Output.CopyToAsync(copy);
        Assert.Equal(0, await run.WaitForExitAsync(CancellationToken.None));
        var text = Encoding.ASCII.GetString(copy.ToArray());
        Assert.Equal(3_000_000 + "\nend\n".Length, text.Length);
        Assert.Equal(3_000_000, text.Count(c => c == 'x'));
        Assert.EndsWith("\nend\n", text);
    }
}

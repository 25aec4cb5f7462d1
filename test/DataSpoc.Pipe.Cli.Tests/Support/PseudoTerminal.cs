using System.Diagnostics;
using System.Text;

namespace DataSpoc.Pipe.Cli.Tests.Support;

/// <summary>Runs the CLI inside a pseudo-terminal (util-linux <c>script</c>), typing answers once the first prompt shows.</summary>
public static class PseudoTerminal
{
    public static bool Available => File.Exists("/usr/bin/script");

    public static CliProcess.Result Run(TempHome home, string waitFor, string keystrokes, params string[] args) =>
        RunSteps(home, [(waitFor, keystrokes)], args);

    /// <summary>Types each step's keystrokes once its text has shown (after the previous step's), for prompts that must be answered one by one.</summary>
    public static CliProcess.Result RunSteps(TempHome home, (string WaitFor, string Keystrokes)[] steps, params string[] args)
    {
        var command = string.Join(' ', CliProcess.Command.Concat(args).Select(Quote));
        var psi = new ProcessStartInfo("script")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "-qec", command, "/dev/null" }) psi.ArgumentList.Add(a);
        home.Apply(psi.Environment);
        using var process = Process.Start(psi)!;
        var output = new StringBuilder();
        var step = 0;
        var seenUpTo = 0;
        var sawPrompt = new TaskCompletionSource();
        var reader = Task.Run(async () =>
        {
            var buffer = new char[1024];
            int n;
            while ((n = await process.StandardOutput.ReadAsync(buffer)) > 0)
            {
                lock (output)
                {
                    output.Append(buffer, 0, n);
                    if (output.ToString(seenUpTo, output.Length - seenUpTo).Contains(steps[Volatile.Read(ref step)].WaitFor, StringComparison.Ordinal)) sawPrompt.TrySetResult();
                }
            }
            sawPrompt.TrySetResult();
        });
        var stderr = process.StandardError.ReadToEndAsync();
        for (var i = 0; i < steps.Length; i++)
        {
            if (!sawPrompt.Task.Wait(TimeSpan.FromSeconds(60))) throw new TimeoutException($"no '{steps[i].WaitFor}' prompt:\n{output}");
            lock (output)
            {
                seenUpTo = output.Length;
                sawPrompt = new TaskCompletionSource();
                Volatile.Write(ref step, Math.Min(i + 1, steps.Length - 1));
            }
            // Typed as a person does, after the prompt has shown: a terminal echoes whatever arrives before the program
            // starts reading with echo off (type-ahead, as at any password prompt), and the prompt's text is printed
            // just before that read begins.
            Thread.Sleep(TypingPause);
            process.StandardInput.Write(steps[i].Keystrokes);
            process.StandardInput.Flush();
        }
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the wizard did not finish:\n{output}");
        }
        reader.Wait(TimeSpan.FromSeconds(10));
        lock (output) return new CliProcess.Result(process.ExitCode, output.ToString(), stderr.Result);
    }

    private static readonly TimeSpan TypingPause = TimeSpan.FromMilliseconds(300);

    private static string Quote(string word) => "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}

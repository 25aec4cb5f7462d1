using System.Runtime.CompilerServices;

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>
/// <see cref="DataSpoc.Pipe.Api.PipeClient.StatusAsync"/> reads the user's crontab: every test of a project that holds
/// this file (the API tests; the MCP tests link it), and every CLI and MCP server it starts, reads the stand-in
/// (Assets/fake_crontab.sh, a table kept in a file) instead, never the real one of whoever runs the tests.
/// </summary>
public static class CrontabStandIn
{
    public static string Script => Path.Combine(AppContext.BaseDirectory, "Assets", "fake_crontab.sh");

    /// <summary>The crontab command for a table kept in <paramref name="file"/> (for <c>new PipeClient(crontab: ...)</c>).</summary>
    public static string Command(string file) => $"env 'CRONTAB_FILE={file}' sh '{Script}'";

    /// <summary>A pipeline's crontab line as <c>schedule install</c> writes it, starting the tool at <paramref name="program"/>.</summary>
    public static string InstalledLine(string home, string pipeline, string cron, string program = "/usr/local/bin/dataspoc-pipe") =>
        $"{cron} {CommandText(DataSpoc.Pipe.Scheduling.CrontabEntries.CommandWords(home, pipeline, "/usr/bin:/bin", [program]))} {DataSpoc.Pipe.Scheduling.CrontabEntries.Tag(home, pipeline)}";

    /// <summary>A line's command as the crontab holds it: <paramref name="words"/> joined as sh reads them, '%' escaped for cron.</summary>
    public static string CommandText(IEnumerable<string> words) =>
        string.Join(' ', words.Select(ShellWord)).Replace("%", "\\%", StringComparison.Ordinal);

    /// <summary>A word of the line as sh reads it: shell syntax as it is, a word with a space or quote single-quoted (the skip log's date format).</summary>
    private static string ShellWord(string word) =>
        DataSpoc.Pipe.Scheduling.CrontabEntries.IsShellSyntax(word) || !word.Any(c => c is ' ' or '\'' or '%' or ';' or '(' or ')')
            ? word
            : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    [ModuleInitializer]
    internal static void UseTheStandIn()
    {
        // No table: "no crontab for <user>", as for a user who never installed one.
        Environment.SetEnvironmentVariable("DATASPOC_PIPE_CRONTAB", Command(Path.Combine(Path.GetTempPath(), "dsp-no-crontab-" + Guid.NewGuid().ToString("N"))));
    }
}

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>Whether a person is at the keyboard and watching the screen.</summary>
internal static class Terminal
{
    public static bool StdinIsTerminal => !Console.IsInputRedirected;
    public static bool StdoutIsTerminal => !Console.IsOutputRedirected;
}

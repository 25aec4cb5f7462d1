namespace DataSpoc.Pipe.Cli;

internal static class EntryPoint
{
    public static int Run(string[] args)
    {
        if (args is ["--version"])
        {
            Console.WriteLine("dataspoc-pipe " + ToolVersion.Current);
            return 0;
        }
        Console.Error.WriteLine("not yet wired");
        return 2;
    }
}

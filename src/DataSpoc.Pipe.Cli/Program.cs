return DataSpoc.Pipe.Cli.EntryPoint.Run(args);

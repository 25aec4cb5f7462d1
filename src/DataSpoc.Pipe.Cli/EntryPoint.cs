using System.Diagnostics.CodeAnalysis;
using DataSpoc.Pipe.Cli.Commands;
using DataSpoc.Pipe.Cli.Infrastructure;
using DataSpoc.Pipe.Runs;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli;

/// <summary>Parses the command line, runs the command, maps errors to one line on stderr and an exit code.</summary>
internal static class EntryPoint
{
    public static int Run(string[] args)
    {
        // First of all, before anything opens a file that would take a closed stdin, stdout or stderr's number.
        StandardStreams.EnsureOpen();
        var console = PrintableOutput.Install();
        var debug = args.Contains("--debug") || Environment.GetEnvironmentVariable("DATASPOC_PIPE_DEBUG") is "1" or "true";
        args = args.Where(a => a != "--debug").ToArray();
        try
        {
            // Answered before anything else is loaded, so scripts that probe the version pay nothing; every spelling the
            // help lists, with any option after it, in the one format the README gives (Spectre's own prints the bare
            // version). Inside the try: a stdout that cannot be written (a full disk) is an error line, not an abort.
            if (args is ["--version" or "-v" or "-V", ..])
            {
                Console.Out.WriteLine("dataspoc-pipe " + ToolVersion.Current);
                return ExitCodes.Success;
            }
            var isRun = args is ["run", ..];
            using var encoder = isRun ? PipelineRunner.PrepareEncoder() : null;
            if (isRun) RunStartCollections.Defer();
            // A branch without its subcommand is a usage error (exit 2, as `schedule bogus` is); Spectre shows the
            // branch's help for it but exits 1, which the README keeps for a failed run or check.
            if (args is [var branch] && Branches.Contains(branch))
            {
                CreateApp(console).Run([branch, "--help"]);
                return ExitCodes.Usage;
            }
            return CreateApp(console).Run(args);
        }
        catch (Exception e)
        {
            // A `run` (or `maintain`) line that does not parse (an unknown option, a value of the wrong type) is one that did
            // not start: with --output json it prints that document too (README), naming no pipeline, as the line was not understood.
            if (args is ["run" or "maintain", ..] && e is CommandParseException or CommandRuntimeException && AsksForJson(args)) JsonOutput.Write(ErrorReport.NotRun(null, e));
            return ErrorReport.Handle(e, debug);
        }
    }

    /// <summary>Whether the command line asks for <c>--output json</c>, in any spelling the parser takes.</summary>
    private static bool AsksForJson(string[] args) =>
        args.Zip(args.Skip(1)).Any(pair => pair is ("--output" or "-o", "json"))
        || args.Any(a => a is "--output=json" or "--output:json" or "-o=json" or "-o:json");

    /// <summary>The commands that only group subcommands (<see cref="Configure"/> adds them with <c>AddBranch</c>).</summary>
    private static readonly string[] Branches = ["schedule", "k8s"];

    [UnconditionalSuppressMessage("AOT", "IL3050", Justification =
        "Spectre binds commands and settings by reflection: their assembly is rooted (TrimmerRootAssembly), their options are " +
        "string, string[] (add --secret), int, bool and FlagValue<string>, and the CLI tests run every command through the native binary.")]
    private static CommandApp CreateApp(Spectre.Console.IAnsiConsole console)
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            Configure(config);
            config.ConfigureConsole(console);
        });
        return app;
    }

    internal static void Configure(IConfigurator config)
    {
        config.SetApplicationName("dataspoc-pipe");
        config.SetApplicationVersion(ToolVersion.Current);
        config.PropagateExceptions();
        config.CaseSensitivity(CaseSensitivity.All);
        config.UseStrictParsing();
        config.SetHelpProvider(new DebugOptionHelp(config.Settings));

        config.AddCommand<InitCommand>("init")
            .WithDescription("Create the home folder (~/.dataspoc-pipe or $DATASPOC_PIPE_HOME): config.yaml, .env (secrets, mode 0600), pipelines/, sources/, transforms/. Safe to run again.")
            .WithExample("init");
        config.AddCommand<AddCommand>("add")
            .WithDescription("Create a pipeline: asks for tap, bucket, path, compression, incremental and cron (or takes them as flags), writes pipelines/<name>.yaml and sources/<name>.json, and the secrets the tap config needs to .env.")
            .WithExample("add", "orders")
            .WithExample("add", "orders", "--tap", "tap-postgres", "--bucket", "s3://my-lake", "--incremental", "--cron", "\"0 */6 * * *\"")
            .WithExample("add", "sheets", "--tap", "csv", "--bucket", "file:///data/lake", "--config", "./csv-config.json");
        config.AddCommand<RunCommand>("run")
            .WithDescription("Run a pipeline (or every pipeline with --all): extract with its tap, write Parquet, commit the manifest, state and run log. Exit code 1 if a run failed.")
            .WithExample("run", "orders")
            .WithExample("run", "orders", "--full")
            .WithExample("run", "--all", "--parallel", "4")
            .WithExample("run", "orders", "--part", "2/4", "--split-run", "nightly-0601")
            .WithExample("run", "orders", "--output", "json");
        config.AddCommand<StatusCommand>("status")
            .WithDescription("Show each pipeline's latest run (status, time, duration, records) and its next scheduled time.")
            .WithExample("status")
            .WithExample("status", "--output", "json");
        config.AddCommand<LogsCommand>("logs")
            .WithDescription("Show a pipeline's latest run log as JSON, list its recent runs, or show one run's log.")
            .WithExample("logs", "orders")
            .WithExample("logs", "orders", "--list")
            .WithExample("logs", "orders", "--run", "3f9a1c2e");
        config.AddCommand<ConfigCommand>("config")
            .WithDescription("Show a pipeline's effective configuration (config.yaml defaults applied, ${VAR} expanded) as JSON, with secrets masked as ***.")
            .WithExample("config", "orders");
        config.AddCommand<ValidateCommand>("validate")
            .WithDescription("Check pipelines without running them: YAML and tap config, that the tap is found and answers --help/--about, and that the bucket allows write, read, list and delete. Exit code 1 if a check failed.")
            .WithExample("validate")
            .WithExample("validate", "orders", "--output", "json");
        config.AddCommand<ManifestCommand>("manifest")
            .WithDescription("Show a bucket's table catalog (.dataspoc/manifest.json).")
            .WithExample("manifest", "file:///data/lake")
            .WithExample("manifest", "s3://my-lake", "--output", "json");
        config.AddCommand<MaintainCommand>("maintain")
            .WithDescription("Maintain a pipeline's tables: with --compact, rewrite each partition's small files into target-size files; expire Iceberg/Delta snapshots older than --expire-older-than (never the current one) and delete the files only they read.")
            .WithExample("maintain", "orders")
            .WithExample("maintain", "orders", "--expire-older-than", "12h", "--output", "json");
        config.AddCommand<StreamsCommand>("streams")
            .WithDescription("List the streams the pipeline's tap offers (its --discover catalog, cached as pipelines/<name>.catalog.json) and which ones source.streams selects.")
            .WithExample("streams", "orders")
            .WithExample("streams", "orders", "--refresh", "--output", "json");
        config.AddBranch("schedule", schedule =>
        {
            schedule.SetDescription("Manage crontab entries for pipelines with schedule.cron and schedule.maintain (a run line and a maintain line, guarded by one flock per pipeline so they never overlap).");
            schedule.AddCommand<ScheduleInstallCommand>("install")
                .WithDescription("Write one crontab entry per pipeline with schedule.cron, and one running maintain per pipeline with schedule.maintain; replaces this home's earlier entries, leaves every other line alone.")
                .WithExample("schedule", "install");
            schedule.AddCommand<ScheduleRemoveCommand>("remove")
                .WithDescription("Remove this home's crontab entries (or one pipeline's run and maintain entries); other lines stay.")
                .WithExample("schedule", "remove")
                .WithExample("schedule", "remove", "orders");
            schedule.AddCommand<ScheduleListCommand>("list")
                .WithDescription("List this home's crontab entries (kind run or maintain) with their next run time.")
                .WithExample("schedule", "list", "--output", "json");
        });
        config.AddBranch("k8s", k8s =>
        {
            k8s.SetDescription("Kubernetes manifests for this home's pipelines.");
            k8s.AddCommand<K8sRenderCommand>("render")
                .WithDescription("Write a CronJob per scheduled pipeline (its files in a ConfigMap, ${VAR} values from a Secret, cloud access by workload identity), an ad-hoc Job per pipeline and a kustomization.yaml; without --output-dir, print what 'kubectl apply -f -' takes.")
                .WithExample("k8s", "render", "--namespace", "data", "--image", "registry.example.com/dataspoc-pipe:1.0", "--output-dir", "k8s/")
                .WithExample("k8s", "render", "--aws-role-arn", "arn:aws:iam::123456789012:role/lake-writer");
        });
        config.AddCommand<TapCommand>("tap")
            .WithDescription("Run a built-in tap as a standalone Singer tap: messages on stdout, for other Singer tools.")
            .WithExample("tap", "csv", "--config", "csv.json", "--discover")
            .WithExample("tap", "csv", "--config", "csv.json", "--catalog", "catalog.json");
        config.AddCommand<Mcp.McpCommand>("mcp").WithDescription("Serve the Model Context Protocol over stdio, for AI agents: list, validate and run pipelines, read status, logs, manifest and tables (secrets masked).").WithExample("mcp").WithExample("mcp", "--home", "/srv/pipe-home");
        config.AddCommand<UiCommand>("ui")
            .WithDescription("Serve a read-only dashboard on 127.0.0.1: pipelines with last status and next run, charts of records and duration per run, run logs, and each bucket's tables with their first rows (secrets masked).")
            .WithExample("ui")
            .WithExample("ui", "--port", "9000");
        config.AddCommand<DemoCommand>("demo")
            .WithDescription("Create sample CSV data and a 'demo' pipeline (built-in csv tap -> file://<home>/demo-lake), run it, and show the tables it wrote.")
            .WithExample("demo");
    }
}

using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.Cli.Infrastructure;
using DataSpoc.Pipe.Config;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Commands;

/// <summary>
/// <c>add &lt;name&gt;</c>: writes <c>pipelines/&lt;name&gt;.yaml</c> and the tap config <c>sources/&lt;name&gt;.json</c>.
/// Asks for what the flags leave out when a person is at the terminal; never asks when stdin is not a terminal.
/// </summary>
internal sealed class AddCommand : AsyncCommand<AddCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<NAME>")]
        [Description("The new pipeline's name (letters, digits, '-', '_', '.')")]
        public string Name { get; init; } = "";

        [CommandOption("--tap <TAP>")]
        [Description("The tap: a command on PATH (tap-postgres), a path, a command line (\"python3 my_tap.py\") or a built-in tap (csv)")]
        public string? Tap { get; init; }

        [CommandOption("--bucket <URI>")]
        [Description("Where the Parquet files go: file:///abs/dir, s3://bucket, gs://bucket, az://container")]
        public string? Bucket { get; init; }

        [CommandOption("--path <PATH>")]
        [Description("Folder inside the bucket (default [green]raw[/], or config.yaml's defaults.path)")]
        public string? Path { get; init; }

        [CommandOption("--compression <CODEC>")]
        [Description("zstd (default), snappy, gzip or none")]
        public string? Compression { get; init; }

        [CommandOption("--incremental [BOOL]")]
        [Description("Resume from saved state on each run (true/false; the flag alone means true)")]
        public FlagValue<string>? Incremental { get; init; }

        /// <summary>The <c>--incremental</c> answer: null when not given.</summary>
        public bool? IncrementalAnswer => Incremental is not { IsSet: true } flag ? null
            : flag.Value?.ToLowerInvariant() switch { null or "" or "true" or "yes" or "y" or "1" => true, _ => false };

        [CommandOption("--cron <EXPR>")]
        [Description("Five-field cron schedule, e.g. \"0 */6 * * *\" (empty: not scheduled)")]
        public string? Cron { get; init; }

        [CommandOption("--streams <LIST>")]
        [Description("Streams to extract, comma-separated: stream names, tap_stream_ids or globs (default: every stream; at a terminal the tap's discovered streams are offered)")]
        public string? Streams { get; init; }

        [CommandOption("--config <FILE>")]
        [Description("An existing tap config JSON to copy to sources/<name>.json (default: a template for known taps, or the tap's --about settings)")]
        public string? Config { get; init; }

        public override ValidationResult Validate()
        {
            if (!PipeHome.IsValidPipelineName(Name))
                return ValidationResult.Error($"pipeline name '{Name}' is not valid: use letters, digits, '-', '_' and '.', not starting with '.' or '-'");
            if (Compression is not null && Compression is not ("zstd" or "snappy" or "gzip" or "none"))
                return ValidationResult.Error($"--compression must be zstd, snappy, gzip or none, not '{Compression}'");
            if (!string.IsNullOrWhiteSpace(Cron) && PipelineLoader.CronError(Cron) is { } why) return ValidationResult.Error("--cron: " + why);
            if (Incremental is { IsSet: true, Value: { Length: > 0 } v } && v.ToLowerInvariant() is not ("true" or "false" or "yes" or "no" or "y" or "n" or "1" or "0"))
                return ValidationResult.Error($"--incremental takes true or false, not '{v}'");
            if (Bucket is not null && BucketError(Bucket) is { } bad) return ValidationResult.Error("--bucket: " + bad);
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var home = Pipelines.Home();
        home.Init();
        if (home.FindPipelineFile(settings.Name) is { } existing)
            throw new UsageException($"pipeline '{settings.Name}' already exists ({existing}); pick another name or edit that file");

        var answers = Gather(settings, home);
        var configTarget = home.SourceConfigPath(settings.Name);
        string configNote;
        if (settings.Config is { } given)
        {
            var path = PipeHome.ExpandHome(given);
            if (!File.Exists(path)) throw new UsageException($"--config: file '{path}' does not exist");
            try
            {
                if (JsonNode.Parse(File.ReadAllText(path)) is not JsonObject) throw new UsageException($"--config: '{path}' must hold a JSON object");
            }
            catch (JsonException e)
            {
                throw new UsageException($"--config: '{path}' is not valid JSON (line {e.LineNumber + 1}): {e.Message.Split(" Path:")[0]}");
            }
            WritePrivate(configTarget, File.ReadAllText(path));
            configNote = $"copied from {path}";
        }
        else if (File.Exists(configTarget))
        {
            configNote = "kept the existing file";
        }
        else
        {
            var template = TapTemplates.For(answers.Tap);
            configNote = "template for " + answers.Tap + ": edit it";
            if (template is null && !TapInvoker.IsBuiltIn(answers.Tap))
            {
                template = await TapTemplates.FromAboutAsync(answers.Tap, settings.Name, cancellationToken);
                configNote = template is null ? "empty: the tap did not describe its settings (--about); fill it in" : "from the tap's --about settings: fill it in";
            }
            WritePrivate(configTarget, (template ?? new JsonObject()).ToJsonString(JsonOutput.Options) + "\n");
        }

        answers = answers with { ConfigFile = "sources/" + settings.Name + ".json" };
        if (settings.Streams is { } listed)
            answers = answers with { Streams = listed.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) };
        else if (Terminal.StdinIsTerminal && await PickStreamsAsync(home, settings.Name, answers, cancellationToken) is { } picked)
            answers = answers with { Streams = picked.Streams, Replication = picked.Replication };
        var yaml = PipelineYaml.Write(answers);
        // The file must load (every ${VAR} is checked at run time, not here: the user sets those later).
        new PipelineLoader(PipeDefaults.Load(home.ConfigPath), home.Root, _ => "placeholder").Parse(yaml, settings.Name, home.PipelinePath(settings.Name));
        var target = home.PipelinePath(settings.Name);
        using (var stream = new FileStream(target, FileMode.CreateNew, FileAccess.Write))
        using (var writer = new StreamWriter(stream))
            writer.Write(yaml);

        AnsiConsole.MarkupLineInterpolated($"Created {target}");
        AnsiConsole.MarkupLineInterpolated($"Tap config {configTarget} ({configNote})");
        AnsiConsole.MarkupLineInterpolated($"Next: dataspoc-pipe validate {settings.Name}, then dataspoc-pipe run {settings.Name}");
        return ExitCodes.Success;
    }

    /// <summary>
    /// Discovery at the terminal: the pipeline as it will be written, loaded with the real environment (a config whose
    /// secrets are not set yet cannot discover, which <see cref="StreamPicker"/> says), then the streams to pick from.
    /// </summary>
    private static async Task<StreamPicker.Choice?> PickStreamsAsync(PipeHome home, string name, PipelineYaml.Answers answers, CancellationToken cancellationToken)
    {
        PipelineDefinition pipeline;
        try
        {
            pipeline = new PipelineLoader(PipeDefaults.Load(home.ConfigPath), home.Root).Parse(PipelineYaml.Write(answers), name, home.PipelinePath(name));
        }
        catch (ConfigException e)
        {
            AnsiConsole.MarkupLineInterpolated($"Streams are not discovered now ({e.Message}); every stream is selected until source.streams says otherwise.");
            return null;
        }
        return await StreamPicker.AskAsync(pipeline, cancellationToken);
    }

    private static PipelineYaml.Answers Gather(Settings s, PipeHome home)
    {
        var interactive = Terminal.StdinIsTerminal && !(s.Tap is not null && s.Bucket is not null && s.Path is not null &&
                                                          s.Compression is not null && s.IncrementalAnswer is not null && s.Cron is not null);
        if (!interactive)
        {
            var missing = new List<string>();
            if (s.Tap is null) missing.Add("--tap");
            if (s.Bucket is null) missing.Add("--bucket");
            if (missing.Count > 0)
                throw new UsageException($"missing {string.Join(" and ", missing)} (stdin is not a terminal, so nothing is asked; e.g. dataspoc-pipe add {s.Name} --tap tap-postgres --bucket file:///tmp/lake)");
            return new PipelineYaml.Answers(s.Tap!, null, s.Bucket!, s.Path, s.Compression, s.IncrementalAnswer ?? false, NullIfEmpty(s.Cron));
        }

        AnsiConsole.MarkupLineInterpolated($"New pipeline [bold]{s.Name}[/] (press Enter to take the default in brackets)");
        var tap = s.Tap ?? AnsiConsole.Prompt(new TextPrompt<string>("Tap (command, path or built-in):")
            .Validate(t => t.Trim().Length > 0 ? ValidationResult.Success() : ValidationResult.Error("the tap is required")));
        var bucket = s.Bucket ?? AnsiConsole.Prompt(new TextPrompt<string>("Bucket")
            .DefaultValue("file://" + System.IO.Path.Combine(home.Root, "lake"))
            .Validate(b => BucketError(b) is { } why ? ValidationResult.Error(why) : ValidationResult.Success()));
        var path = s.Path ?? AnsiConsole.Prompt(new TextPrompt<string>("Base path in the bucket").DefaultValue("raw"));
        var compression = s.Compression ?? AnsiConsole.Prompt(new TextPrompt<string>("Compression")
            .AddChoices(["zstd", "snappy", "gzip", "none"]).DefaultValue("zstd"));
        var incremental = s.IncrementalAnswer ?? AnsiConsole.Prompt(new ConfirmationPrompt("Incremental (resume from saved state)?") { DefaultValue = false });
        var cron = s.Cron ?? AnsiConsole.Prompt(new TextPrompt<string>("Cron schedule (empty for none):").AllowEmpty()
            .Validate(c => string.IsNullOrWhiteSpace(c) || PipelineLoader.CronError(c) is null ? ValidationResult.Success() : ValidationResult.Error(PipelineLoader.CronError(c)!)));
        return new PipelineYaml.Answers(tap.Trim(), null, bucket.Trim(), path.Trim(), compression, incremental, NullIfEmpty(cron));
    }

    private static string? BucketError(string bucket)
    {
        try
        {
            Storage.BucketUri.Parse(bucket);
            return null;
        }
        catch (FormatException e)
        {
            return e.Message;
        }
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();

    private static void WritePrivate(string path, string content)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write(content);
    }
}

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
/// The secrets the tap config refers to (<c>${PGPASSWORD}</c>…) go to the home's private <c>.env</c>, never to the config.
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

        [CommandOption("--secret <KEY=VALUE>")]
        [Description("A secret the tap config refers to as ${KEY}: saved to the home's .env (mode 0600), never to the config. Repeatable. A value .env already holds is replaced (the output names the other pipelines that read it). Without it, a terminal is asked (input hidden)")]
        public string[] Secrets { get; init; } = [];

        /// <summary>The <c>--secret</c> values by key (the last one wins).</summary>
        public Dictionary<string, string> SecretValues()
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var pair in Secrets)
            {
                var eq = pair.IndexOf('=');
                values[pair[..eq]] = pair[(eq + 1)..];
            }
            return values;
        }

        public override ValidationResult Validate()
        {
            foreach (var pair in Secrets)
            {
                var eq = pair.IndexOf('=');
                // The message names the key only: the value is a secret.
                if (eq <= 0) return ValidationResult.Error("--secret takes KEY=VALUE");
                if (!VariableInterpolation.IsName(pair[..eq])) return ValidationResult.Error($"--secret: '{pair[..eq]}' is not a variable name (letters, digits and '_')");
            }
            if (!PipeHome.IsValidPipelineName(Name))
                return ValidationResult.Error($"pipeline name '{Name}' is not valid: {Lake.LakeNames.PipelineNameRule}");
            if (Compression is not null && Compression is not ("zstd" or "snappy" or "gzip" or "none"))
                return ValidationResult.Error($"--compression must be zstd, snappy, gzip or none, not '{Compression}'");
            if (!string.IsNullOrWhiteSpace(Cron) && PipelineLoader.CronError(Cron) is { } why) return ValidationResult.Error("--cron: " + why);
            if (Incremental is { IsSet: true, Value: { Length: > 0 } v } && v.ToLowerInvariant() is not ("true" or "false" or "yes" or "no" or "y" or "n" or "1" or "0"))
                return ValidationResult.Error($"--incremental takes true or false, not '{v}'");
            if (Bucket is not null && PipelineLocation.BucketProblem(Bucket) is { } bad) return ValidationResult.Error("--bucket: " + bad);
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var home = Pipelines.Home();
        // .env, in the home's own folder, is written only for secrets.
        string[] written = settings.Secrets.Length > 0 ? [home.PipelinesDirectory, home.SourcesDirectory, home.Root] : [home.PipelinesDirectory, home.SourcesDirectory];
        Pipelines.InitHome(home, written);
        if (home.FindPipelineFile(settings.Name) is { } existing)
            throw new UsageException($"pipeline '{settings.Name}' already exists ({existing}); pick another name or edit that file");
        // A .env that is not private is refused before anything is written.
        var dotEnv = DotEnvFile.Read(home.EnvFilePath);

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
            if (template is null && !Sources.SourceFactory.IsBuiltIn(answers.Tap))
            {
                template = await TapTemplates.FromAboutAsync(answers.Tap, settings.Name, cancellationToken);
                configNote = template is null ? "empty: the tap did not describe its settings (--about); fill it in" : "from the tap's --about settings: fill it in";
            }
            WritePrivate(configTarget, (template ?? new JsonObject()).ToJsonString(JsonOutput.Options) + "\n");
        }

        // Secrets first: discovery below runs the tap with them.
        SaveSecrets(settings, home, dotEnv, configTarget);
        answers = answers with { ConfigFile = "sources/" + settings.Name + ".json" };
        if (settings.Streams is { } listed)
            answers = answers with { Streams = listed.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) };
        else if (Terminal.StdinIsTerminal && await PickStreamsAsync(home, settings.Name, answers, cancellationToken) is { } picked)
            answers = answers with { Streams = picked.Streams, Replication = picked.Replication };
        var yaml = PipelineYaml.Write(answers);
        // The file must load (every ${VAR} is checked at run time, not here: the user sets those later).
        new PipelineLoader(PipeDefaults.Load(home.ConfigPath), home.Root, _ => "placeholder").Parse(yaml, settings.Name, home.PipelinePath(settings.Name));
        var target = home.PipelinePath(settings.Name);
        PipeHome.WriteFile(target, yaml, FileMode.CreateNew);

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
            pipeline = PipelineLoader.ForHome(home).Parse(PipelineYaml.Write(answers), name, home.PipelinePath(name));
        }
        catch (ConfigException e)
        {
            AnsiConsole.MarkupLineInterpolated($"Streams are not discovered now ({e.Message}); every stream is selected until source.streams says otherwise.");
            return null;
        }
        return await StreamPicker.AskAsync(pipeline, cancellationToken);
    }

    /// <summary>
    /// Puts the secrets the tap config refers to in <c>.env</c>: from <c>--secret</c>, else asked at a terminal with the
    /// input hidden. Only names are printed. A variable <c>.env</c> already has is kept, unless <c>--secret</c> gives it
    /// another value: then it is replaced, and the output names the home's pipelines that read it too (they run with the
    /// new value from now on). One still unset gets a notice.
    /// </summary>
    private static void SaveSecrets(Settings settings, PipeHome home, DotEnvFile dotEnv, string configFile)
    {
        var given = settings.SecretValues();
        var toSave = new Dictionary<string, string>(given, StringComparer.Ordinal);
        var unset = new List<string>();
        foreach (var name in ReferencedVariables(configFile))
        {
            if (given.ContainsKey(name) || dotEnv.Values.ContainsKey(name)) continue;
            var value = Terminal.StdinIsTerminal
                ? AnsiConsole.Prompt(new TextPrompt<string>($"Secret [bold]{name}[/] for the tap config (input hidden; Enter to leave it unset):").Secret(null).AllowEmpty())
                : "";
            if (value.Length > 0) toSave[name] = value;
            else unset.Add(name);
        }
        if (toSave.Count > 0)
        {
            var replaced = toSave.Keys.Where(k => dotEnv.Values.TryGetValue(k, out var held) && held != toSave[k]).ToList();
            DotEnvFile.Set(home.EnvFilePath, toSave);
            Console.Out.WriteLine($"Saved {string.Join(", ", toSave.Keys)} to {home.EnvFilePath} (mode 0600)");
            foreach (var name in replaced)
            {
                var users = PipelinesReading(home, name);
                Console.Out.WriteLine($"replaced {name}, which {home.EnvFilePath} held before" + (users.Count > 0 ? $" (also used by: {string.Join(", ", users)})" : ""));
            }
        }
        foreach (var name in unset)
            Console.Out.WriteLine($"note: {name} is not set, so runs fail until it is: add {name}=... to {home.EnvFilePath} (or pass --secret {name}=... to add)");
    }

    /// <summary>
    /// The home's pipelines that read <c>${<paramref name="variable"/>}</c> (in their file, their tap config or
    /// <c>config.yaml</c>), sorted; a pipeline file that does not load is left out.
    /// </summary>
    private static List<string> PipelinesReading(PipeHome home, string variable)
    {
        var loader = PipelineLoader.ForHome(home, allowUnsetVariables: true);
        var users = new List<string>();
        foreach (var pipeline in home.PipelineNames())
        {
            try
            {
                if (home.FindPipelineFile(pipeline) is { } file && loader.LoadFile(file).Variables.Any(v => v.Name == variable)) users.Add(pipeline);
            }
            catch (ConfigException) { }
        }
        return users;
    }

    /// <summary>The <c>${VAR}</c>s without default in a tap config file's string values, in order of appearance.</summary>
    private static List<string> ReferencedVariables(string configFile)
    {
        var names = new List<string>();
        JsonNode? config;
        try
        {
            config = JsonNode.Parse(File.ReadAllText(configFile), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException)
        {
            return names; // validate and run report a broken config with its line
        }
        foreach (var text in Strings(config))
        {
            try
            {
                // Nothing is set here, so every reference without default is reported as unset.
                VariableInterpolation.Expand(text, _ => null, out _, name =>
                {
                    if (!names.Contains(name)) names.Add(name);
                    return "";
                });
            }
            catch (FormatException)
            {
                // Not a reference (e.g. '${' without '}'): the loader reports it with its key.
            }
        }
        return names;
    }

    private static IEnumerable<string> Strings(JsonNode? node) => node switch
    {
        JsonObject o => o.SelectMany(p => Strings(p.Value)),
        JsonArray a => a.SelectMany(Strings),
        JsonValue v when v.TryGetValue<string>(out var text) => [text],
        _ => [],
    };

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
            .Validate(b => PipelineLocation.BucketProblem(b) is { } why ? ValidationResult.Error(why) : ValidationResult.Success()));
        var path = s.Path ?? AnsiConsole.Prompt(new TextPrompt<string>("Base path in the bucket").DefaultValue("raw"));
        var compression = s.Compression ?? AnsiConsole.Prompt(new TextPrompt<string>("Compression")
            .AddChoices(["zstd", "snappy", "gzip", "none"]).DefaultValue("zstd"));
        var incremental = s.IncrementalAnswer ?? AnsiConsole.Prompt(new ConfirmationPrompt("Incremental (resume from saved state)?") { DefaultValue = false });
        var cron = s.Cron ?? AnsiConsole.Prompt(new TextPrompt<string>("Cron schedule (empty for none):").AllowEmpty()
            .Validate(c => string.IsNullOrWhiteSpace(c) || PipelineLoader.CronError(c) is null ? ValidationResult.Success() : ValidationResult.Error(PipelineLoader.CronError(c)!)));
        return new PipelineYaml.Answers(tap.Trim(), null, bucket.Trim(), path.Trim(), compression, incremental, NullIfEmpty(cron));
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();

    private static void WritePrivate(string path, string content)
    {
        PipeHome.CreateFolder(System.IO.Path.GetDirectoryName(path)!);
        PipeHome.WriteFile(path, content);
    }
}

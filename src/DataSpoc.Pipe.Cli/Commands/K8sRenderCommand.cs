using System.ComponentModel;
using DataSpoc.Pipe.Cli.Infrastructure;
using DataSpoc.Pipe.Kubernetes;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DataSpoc.Pipe.Cli.Commands;

/// <summary><c>k8s render</c>: Kubernetes manifests for this home's pipelines (<see cref="KubernetesRender"/>), printed or written to a folder.</summary>
internal sealed class K8sRenderCommand : Command<K8sRenderCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("-n|--namespace <NAMESPACE>")]
        [Description("Namespace of every object (default: kubectl's)")]
        public string? Namespace { get; init; }

        [CommandOption("--image <IMAGE>")]
        [Description("Image whose entrypoint is dataspoc-pipe")]
        public string? Image { get; init; }

        [CommandOption("--output-dir <DIR>")]
        [Description("Write a Kustomize folder instead of printing")]
        public string? OutputDir { get; init; }

        [CommandOption("--secret <NAME>")]
        [Description("Secret with the ${VAR} values")]
        [DefaultValue("dataspoc-pipe-env")]
        public string Secret { get; init; } = "dataspoc-pipe-env";

        [CommandOption("--aws-role-arn <ARN>")]
        [Description("IRSA role for s3:// buckets")]
        public string? AwsRoleArn { get; init; }

        [CommandOption("--gcp-service-account <EMAIL>")]
        [Description("GKE workload identity for gs://")]
        public string? GcpServiceAccount { get; init; }

        [CommandOption("--azure-client-id <ID>")]
        [Description("Azure workload identity client id")]
        public string? AzureClientId { get; init; }

        [CommandOption("--time-zone <TZ>")]
        [Description("Time zone of schedule.cron")]
        [DefaultValue(DefaultTimeZone)]
        public string TimeZone { get; init; } = DefaultTimeZone;

        private const string DefaultTimeZone = "Etc/UTC";

        public override ValidationResult Validate()
        {
            if (Namespace is not null && !IsDnsLabel(Namespace))
                return ValidationResult.Error($"--namespace '{Namespace}' is not a valid namespace (lowercase letters, digits and '-', at most 63)");
            if (!IsDnsLabel(Secret, 253, dots: true))
                return ValidationResult.Error($"--secret '{Secret}' is not a valid Secret name (lowercase letters, digits, '-' and '.')");
            if (Image is { } image && (image.Length == 0 || image.Any(char.IsWhiteSpace)))
                return ValidationResult.Error("--image must be an image reference without spaces");
            // The API server refuses a CronJob whose timeZone is not an IANA zone: found here, before anything is written.
            if (TimeZone != DefaultTimeZone && !(TimeZoneInfo.TryFindSystemTimeZoneById(TimeZone, out var zone) && zone.HasIanaId))
                return ValidationResult.Error($"--time-zone '{TimeZone}' is not a time zone this machine knows (an IANA name such as Europe/Berlin or America/New_York)");
            return ValidationResult.Success();
        }

        private static bool IsDnsLabel(string s, int max = 63, bool dots = false) =>
            s.Length is > 0 && s.Length <= max && char.IsAsciiLetterOrDigit(s[0]) && char.IsAsciiLetterOrDigit(s[^1]) &&
            s.All(c => char.IsAsciiDigit(c) || char.IsAsciiLetterLower(c) || c == '-' || (dots && c == '.'));
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var options = new KubernetesRenderOptions
        {
            Namespace = settings.Namespace,
            SecretName = settings.Secret,
            AwsRoleArn = settings.AwsRoleArn,
            GcpServiceAccount = settings.GcpServiceAccount,
            AzureClientId = settings.AzureClientId,
            TimeZone = settings.TimeZone,
        };
        if (settings.Image is { } image) options = options with { Image = image };
        var rendered = KubernetesRender.Render(Pipelines.Home(), options);
        foreach (var warning in rendered.Warnings) Console.Error.WriteLine("warning: " + warning);
        if (settings.OutputDir is null)
        {
            Console.Out.Write(rendered.ApplyStream);
            return ExitCodes.Success;
        }
        var dir = Path.GetFullPath(settings.OutputDir);
        rendered.WriteTo(dir);
        var table = new Table().AddColumns("pipeline", "object", "schedule", $"keys of Secret {settings.Secret}");
        foreach (var p in rendered.Pipelines)
            table.AddRow(Markup.Escape(p.Pipeline), Markup.Escape(p.ObjectName), Markup.Escape(p.Cron ?? "(Job only)"), Markup.Escape(string.Join(", ", p.SecretVariables)));
        AnsiConsole.Write(table);
        // Plain lines: commands to copy must not be wrapped at the terminal's width.
        Console.Out.WriteLine($"Wrote {rendered.Files.Count} files to {dir}.");
        Console.Out.WriteLine($"Apply: kubectl apply -k {dir}");
        Console.Out.WriteLine($"Run one now: kubectl create -f {dir}/jobs/<object>-run.yaml");
        return ExitCodes.Success;
    }
}

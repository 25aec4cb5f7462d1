namespace DataSpoc.Pipe.Kubernetes;

/// <summary>What <see cref="KubernetesRender"/> writes besides the pipelines themselves.</summary>
public sealed record KubernetesRenderOptions
{
    /// <summary>Sets <c>metadata.namespace</c> on every object and in <c>kustomization.yaml</c>; null leaves it to kubectl.</summary>
    public string? Namespace { get; init; }
    /// <summary>The container image with <c>dataspoc-pipe</c> as its entrypoint (deploy/container/Containerfile).</summary>
    public string Image { get; init; } = "dataspoc-pipe:" + ToolVersion.Release;
    /// <summary>The Secret that holds every <c>${VAR}</c> value the pipelines read (one key per variable name).</summary>
    public string SecretName { get; init; } = "dataspoc-pipe-env";
    public string ServiceAccountName { get; init; } = "dataspoc-pipe";
    /// <summary>IRSA: the IAM role the pods assume for s3:// buckets (annotation <c>eks.amazonaws.com/role-arn</c>).</summary>
    public string? AwsRoleArn { get; init; }
    /// <summary>GKE workload identity: the Google service account for gs:// buckets (annotation <c>iam.gke.io/gcp-service-account</c>).</summary>
    public string? GcpServiceAccount { get; init; }
    /// <summary>Azure workload identity: the managed identity's client id for az:// buckets.</summary>
    public string? AzureClientId { get; init; }
    /// <summary>The time zone of <c>schedule.cron</c> (a CronJob's <c>timeZone</c>).</summary>
    public string TimeZone { get; init; } = "Etc/UTC";
}

namespace DataSpoc.Pipe.Kubernetes;

/// <summary>
/// The Kubernetes objects that run one pipeline: its ConfigMap (the pipeline file, the home's <c>config.yaml</c> and
/// its tap config, mounted read-only as the pod's home folder), a CronJob when it has <c>schedule.cron</c>, a Job for an
/// ad-hoc run and an Indexed Job for a table split across workers. Every pod runs the same container the same way.
/// </summary>
public static class PipelineWorkloads
{
    /// <summary>The image's user (deploy/container/Containerfile) and where the pod finds the home folder.</summary>
    public const long RunAsUser = 10001;
    public const string PodHome = "/home/pipe";
    public const string PodPipeHome = PodHome + "/.dataspoc-pipe";

    /// <summary>
    /// The request covers the measured peak memory of a run over a wide (100-column) table, the limit leaves room for wider
    /// rows and a tap subprocess; a run uses up to ~2 cores when its source keeps up, so there is no CPU limit and it is
    /// never throttled (figures in bench/README.md, "Measurements behind the code").
    /// </summary>
    public const string MemoryRequest = "192Mi";
    public const string MemoryLimit = "512Mi";
    public const string CpuRequest = "500m";

    /// <summary>The CLI's exit code for a configuration error: retrying cannot help, so the Job fails at once.</summary>
    public const int ConfigErrorExitCode = 2;

    public static ManifestMap Labels(string objectName, string component) => new()
    {
        ["app.kubernetes.io/name"] = "dataspoc-pipe",
        ["app.kubernetes.io/instance"] = objectName,
        ["app.kubernetes.io/component"] = component,
    };

    public static ManifestMap Metadata(string name, string? ns, ManifestMap labels, ManifestMap? annotations = null) => new()
    {
        ["name"] = name,
        ["namespace"] = ns,
        ["labels"] = labels,
        ["annotations"] = annotations,
    };

    public static ManifestMap ServiceAccount(KubernetesRenderOptions options)
    {
        var annotations = new ManifestMap
        {
            ["eks.amazonaws.com/role-arn"] = options.AwsRoleArn,
            ["iam.gke.io/gcp-service-account"] = options.GcpServiceAccount,
            ["azure.workload.identity/client-id"] = options.AzureClientId,
        };
        annotations.RemoveAll(a => a.Value is null);
        return new ManifestMap
        {
            ["apiVersion"] = "v1",
            ["kind"] = "ServiceAccount",
            ["metadata"] = Metadata(options.ServiceAccountName, options.Namespace, Labels(options.ServiceAccountName, "identity"), annotations.Count > 0 ? annotations : null),
        };
    }

    /// <summary>A file of the home folder carried by the ConfigMap: its data key and its path under the home.</summary>
    public sealed record HomeFile(string Key, string RelativePath, string Text);

    public static ManifestMap ConfigMap(string objectName, string pipeline, string? ns, IReadOnlyList<HomeFile> files)
    {
        var data = new ManifestMap();
        foreach (var f in files) data[f.Key] = f.Text;
        return new ManifestMap
        {
            ["apiVersion"] = "v1",
            ["kind"] = "ConfigMap",
            ["metadata"] = Metadata(objectName, ns, Labels(objectName, "pipeline"), PipelineAnnotation(pipeline)),
            ["data"] = data,
        };
    }

    /// <summary>What a pod needs to run one pipeline.</summary>
    public sealed record PodInputs(
        string ObjectName, string Pipeline, IReadOnlyList<HomeFile> Files, IReadOnlyList<string> SecretVariables, KubernetesRenderOptions Options);

    public static ManifestMap CronJob(PodInputs pod, string cron, TimeSpan? timeout) => new()
    {
        ["apiVersion"] = "batch/v1",
        ["kind"] = "CronJob",
        ["metadata"] = Metadata(pod.ObjectName, pod.Options.Namespace, Labels(pod.ObjectName, "pipeline"), PipelineAnnotation(pod.Pipeline)),
        ["spec"] = new ManifestMap
        {
            ["schedule"] = cron,
            ["timeZone"] = pod.Options.TimeZone,
            // A run still going when the next is due makes the next one skip, as `flock -n` does for crontab entries;
            // the bucket's run lock would refuse it anyway.
            ["concurrencyPolicy"] = "Forbid",
            ["startingDeadlineSeconds"] = 600,
            ["successfulJobsHistoryLimit"] = 3,
            ["failedJobsHistoryLimit"] = 3,
            ["jobTemplate"] = new ManifestMap
            {
                ["metadata"] = new ManifestMap { ["labels"] = Labels(pod.ObjectName, "pipeline") },
                ["spec"] = JobSpec(pod, ["run", pod.Pipeline], timeout, indexedParts: null),
            },
        },
    };

    /// <summary>A one-off run (<c>kubectl create -f</c>); kept an hour after it ends so its logs can be read.</summary>
    public static ManifestMap AdHocJob(PodInputs pod, TimeSpan? timeout) =>
        JobKeptAnHour(pod, "run", JobSpec(pod, ["run", pod.Pipeline], timeout, indexedParts: null), indexedParts: null);

    /// <summary>The variable that carries the split run's id (<c>run --split-run</c>'s default).</summary>
    public const string SplitRunVariable = "DATASPOC_SPLIT_RUN";

    /// <summary>
    /// One table read by <paramref name="parts"/> workers (<c>source.split.parts</c>): pod I runs <c>run NAME --part auto</c>,
    /// which reads I from the <c>JOB_COMPLETION_INDEX</c> Kubernetes gives each pod of an Indexed Job, and every pod (and
    /// every retry) shares the Job's uid as the split run's id. The last part to finish commits all of them; a failed
    /// index is retried alone (<c>backoffLimitPerIndex</c>), and a retry of an index already staged only tries the commit.
    /// </summary>
    public static ManifestMap IndexedJob(PodInputs pod, int parts, TimeSpan? timeout) =>
        JobKeptAnHour(pod, "split", JobSpec(pod, ["run", pod.Pipeline, "--part", "auto"], timeout, parts), parts);

    /// <summary>
    /// A Job labelled for its <paramref name="role"/>, deleted an hour after it ends (its logs stay readable until then).
    /// It is created again and again (<c>kubectl create -f</c>), so it has a <c>generateName</c>: each create makes a new
    /// Job (for the split Job a new uid, so a new split run) instead of failing with AlreadyExists while the last one is kept.
    /// </summary>
    private static ManifestMap JobKeptAnHour(PodInputs pod, string role, ManifestMap spec, int? indexedParts)
    {
        spec["ttlSecondsAfterFinished"] = 3600;
        // The API server adds 5 characters; an Indexed Job's pods take the hostname <job name>-<index>, a DNS label (63 at most).
        var max = 63 - 5 - (indexedParts is { } n ? 1 + (n - 1).ToString(System.Globalization.CultureInfo.InvariantCulture).Length : 0);
        var stem = pod.ObjectName.Length + role.Length + 2 > max ? pod.ObjectName[..(max - role.Length - 2)].TrimEnd('-') : pod.ObjectName;
        var metadata = Metadata(pod.ObjectName, pod.Options.Namespace, Labels(pod.ObjectName, role), PipelineAnnotation(pod.Pipeline));
        metadata.RemoveAll(e => e.Key == "name");
        metadata.Insert(0, new("generateName", stem + "-" + role + "-"));
        return new ManifestMap
        {
            ["apiVersion"] = "batch/v1",
            ["kind"] = "Job",
            ["metadata"] = metadata,
            ["spec"] = spec,
        };
    }

    private static ManifestMap PipelineAnnotation(string pipeline) => new() { ["dataspoc-pipe/pipeline"] = pipeline };

    private static ManifestMap JobSpec(PodInputs pod, List<object> args, TimeSpan? timeout, int? indexedParts)
    {
        var spec = new ManifestMap();
        if (indexedParts is { } n)
        {
            spec["completionMode"] = "Indexed";
            spec["completions"] = n;
            spec["parallelism"] = n;
            spec["backoffLimitPerIndex"] = 2;
        }
        else spec["backoffLimit"] = 2;
        // The tap's own timeout plus time to commit: a hung pod cannot hold the pipeline's lock forever.
        if (timeout is { } t) spec["activeDeadlineSeconds"] = (long)t.TotalSeconds + 600;
        spec["podFailurePolicy"] = new ManifestMap
        {
            ["rules"] = new List<object>
            {
                new ManifestMap
                {
                    ["action"] = indexedParts is null ? "FailJob" : "FailIndex",
                    ["onExitCodes"] = new ManifestMap
                    {
                        ["containerName"] = "pipe",
                        ["operator"] = "In",
                        ["values"] = new List<object> { ConfigErrorExitCode },
                    },
                },
            },
        };
        spec["template"] = PodTemplate(pod, args, splitRun: indexedParts is not null);
        return spec;
    }

    private static ManifestMap PodTemplate(PodInputs pod, List<object> args, bool splitRun)
    {
        var labels = Labels(pod.ObjectName, "pipeline");
        if (pod.Options.AzureClientId is not null) labels["azure.workload.identity/use"] = "true";
        var env = new List<object>
        {
            new ManifestMap { ["name"] = "HOME", ["value"] = PodHome },
            new ManifestMap { ["name"] = "DATASPOC_PIPE_HOME", ["value"] = PodPipeHome },
        };
        if (splitRun)
            env.Add(new ManifestMap
            {
                ["name"] = SplitRunVariable,
                // The Job controller labels its pods with the Job's uid: the same for all indexes and their retries.
                ["valueFrom"] = new ManifestMap { ["fieldRef"] = new ManifestMap { ["fieldPath"] = "metadata.labels['batch.kubernetes.io/controller-uid']" } },
            });
        foreach (var variable in pod.SecretVariables)
        {
            env.Add(new ManifestMap
            {
                ["name"] = variable,
                ["valueFrom"] = new ManifestMap
                {
                    // Optional: a ${VAR:-default} takes its default when the key is absent, and a required one fails the
                    // run with the engine's own error naming the variable (exit 2), as on a host.
                    ["secretKeyRef"] = new ManifestMap { ["name"] = pod.Options.SecretName, ["key"] = variable, ["optional"] = true },
                },
            });
        }
        var items = pod.Files.Select(f => (object)new ManifestMap { ["key"] = f.Key, ["path"] = f.RelativePath }).ToList();
        return new ManifestMap
        {
            ["metadata"] = new ManifestMap { ["labels"] = labels },
            ["spec"] = new ManifestMap
            {
                ["serviceAccountName"] = pod.Options.ServiceAccountName,
                ["restartPolicy"] = "Never",
                ["securityContext"] = new ManifestMap
                {
                    ["runAsNonRoot"] = true,
                    ["runAsUser"] = RunAsUser,
                    ["runAsGroup"] = RunAsUser,
                    ["fsGroup"] = RunAsUser,
                    ["seccompProfile"] = new ManifestMap { ["type"] = "RuntimeDefault" },
                },
                ["containers"] = new List<object>
                {
                    new ManifestMap
                    {
                        ["name"] = "pipe",
                        ["image"] = pod.Options.Image,
                        ["args"] = args,
                        ["env"] = env,
                        ["resources"] = new ManifestMap
                        {
                            ["requests"] = new ManifestMap { ["cpu"] = CpuRequest, ["memory"] = MemoryRequest },
                            ["limits"] = new ManifestMap { ["memory"] = MemoryLimit },
                        },
                        ["securityContext"] = new ManifestMap
                        {
                            ["allowPrivilegeEscalation"] = false,
                            ["readOnlyRootFilesystem"] = true,
                            ["capabilities"] = new ManifestMap { ["drop"] = new List<object> { "ALL" } },
                        },
                        ["volumeMounts"] = new List<object>
                        {
                            new ManifestMap { ["name"] = "home", ["mountPath"] = PodPipeHome, ["readOnly"] = true },
                            // Spool files (Parquet before upload to a cloud bucket) and the tap's private config.
                            new ManifestMap { ["name"] = "tmp", ["mountPath"] = "/tmp" },
                        },
                    },
                },
                ["volumes"] = new List<object>
                {
                    new ManifestMap { ["name"] = "home", ["configMap"] = new ManifestMap { ["name"] = pod.ObjectName, ["items"] = items } },
                    new ManifestMap { ["name"] = "tmp", ["emptyDir"] = new ManifestMap() },
                },
            },
        };
    }
}

using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Kubernetes;
using DataSpoc.Pipe.Tests.Support;
using k8s.Models;

namespace DataSpoc.Pipe.Tests.Kubernetes;

public sealed class KubernetesRenderTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "dsp-k8s-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly PipeHome _home;

    public KubernetesRenderTests()
    {
        CopyDirectory(Path.Combine(KubernetesObjects.RepoRoot, "deploy", "k8s", "example-home"), Path.Combine(_root, "home"));
        _home = new PipeHome(Path.Combine(_root, "home"));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static readonly Func<string, string?> NoVariables = _ => null;

    private RenderedManifests Render(KubernetesRenderOptions? options = null, Func<string, string?>? environment = null) =>
        KubernetesRender.Render(_home, options ?? new KubernetesRenderOptions { Namespace = "data", Image = "registry.example/pipe:1" }, environment ?? NoVariables);

    private static T Single<T>(RenderedManifests r, string path) =>
        Assert.IsType<T>(Assert.Single(KubernetesObjects.LoadStrict(r.Files.Single(f => f.Path == path).Text)));

    [Fact]
    public void Every_rendered_object_loads_strictly_into_the_Kubernetes_API_models()
    {
        var r = Render(new KubernetesRenderOptions { Namespace = "data" });
        var kinds = new List<string>();
        foreach (var (path, text) in r.Files.Where(f => f.Path != "kustomization.yaml"))
            foreach (var o in KubernetesObjects.LoadStrict(text))
            {
                kinds.Add($"{path}:{o.Kind}");
                Assert.Equal("data", ((IMetadata<V1ObjectMeta>)o).Metadata.NamespaceProperty);
            }
        Assert.Equal(
            [
                "serviceaccount.yaml:ServiceAccount",
                "pipelines/pipe-customers-eu-" + r.Pipelines[0].ObjectName[^6..] + ".yaml:ConfigMap",
                $"jobs/{r.Pipelines[0].ObjectName}-run.yaml:Job",
                "pipelines/pipe-orders.yaml:ConfigMap", "pipelines/pipe-orders.yaml:CronJob",
                "jobs/pipe-orders-run.yaml:Job", "jobs/pipe-orders-split.yaml:Job",
            ], kinds);
        // What stdout gets without --output-dir is exactly the applied resources, strictly valid too.
        Assert.Equal(["ServiceAccount", "ConfigMap", "ConfigMap", "CronJob"], KubernetesObjects.LoadStrict(r.ApplyStream).Select(o => o.Kind));
    }

    [Fact]
    public void A_scheduled_pipeline_becomes_a_CronJob_that_never_overlaps_and_mounts_its_files_from_a_ConfigMap()
    {
        var r = Render();
        var cronJob = Assert.IsType<V1CronJob>(KubernetesObjects.LoadStrict(r.Files.Single(f => f.Path == "pipelines/pipe-orders.yaml").Text)[1]);
        Assert.Equal("0 */6 * * *", cronJob.Spec.Schedule);
        Assert.Equal("Forbid", cronJob.Spec.ConcurrencyPolicy);
        Assert.Equal("Etc/UTC", cronJob.Spec.TimeZone);
        var job = cronJob.Spec.JobTemplate.Spec;
        Assert.Equal(2 * 3600 + 600, job.ActiveDeadlineSeconds); // source.timeout 2h, plus time to commit
        var rule = Assert.Single(job.PodFailurePolicy.Rules);
        Assert.Equal(("FailJob", 2), (rule.Action, Assert.Single(rule.OnExitCodes.Values)));
        var pod = job.Template.Spec;
        Assert.Equal(("Never", "dataspoc-pipe", true, 10001L), (pod.RestartPolicy, pod.ServiceAccountName, pod.SecurityContext.RunAsNonRoot, pod.SecurityContext.RunAsUser));
        var container = KubernetesObjects.Container(job.Template);
        Assert.Equal("registry.example/pipe:1", container.Image);
        Assert.Equal(["run", "orders"], container.Args);
        Assert.Equal("192Mi", container.Resources.Requests["memory"].ToString());
        Assert.Equal("512Mi", container.Resources.Limits["memory"].ToString());
        Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
        Assert.Equal(["ALL"], container.SecurityContext.Capabilities.Drop);
        var home = Assert.Single(container.VolumeMounts, m => m.Name == "home");
        Assert.Equal(("/home/pipe/.dataspoc-pipe", true), (home.MountPath, home.ReadOnlyProperty));

        // The ConfigMap carries the home's files byte for byte, at the paths the loader looks them up.
        var configMap = Assert.IsType<V1ConfigMap>(KubernetesObjects.LoadStrict(r.Files.Single(f => f.Path == "pipelines/pipe-orders.yaml").Text)[0]);
        var volume = Assert.Single(pod.Volumes, v => v.Name == "home");
        Assert.Equal("pipe-orders", volume.ConfigMap.Name);
        var mounted = volume.ConfigMap.Items.ToDictionary(i => i.Path, i => configMap.Data[i.Key]);
        Assert.Equal(["config.yaml", "pipelines/orders.yaml", "sources/orders.json"], mounted.Keys.Order());
        foreach (var (path, text) in mounted) Assert.Equal(File.ReadAllText(Path.Combine(_home.Root, path)), text);
    }

    [Fact]
    public void Variables_come_from_the_Secret_exactly_where_the_engine_expands_them_and_their_values_never_appear()
    {
        File.WriteAllText(_home.PipelinePath("orders"), File.ReadAllText(_home.PipelinePath("orders"))
            .Replace("config: sources/orders.json", "config: ${HOME}/.dataspoc-pipe/sources/orders.json # not ${IN_COMMENT}"));
        File.WriteAllText(_home.SourceConfigPath("orders"), File.ReadAllText(_home.SourceConfigPath("orders"))
            .Replace("\"dbname\": \"shop\"", "\"dbname\": \"$${NOT_A_VARIABLE}\", \"sslmode\": \"${PG_SSLMODE:-prefer}\""));
        File.AppendAllText(_home.ConfigPath, "  # ${ALSO_A_COMMENT}\n");
        // The home is ~/.dataspoc-pipe for ${HOME}; a secret set where render runs must not leak into what it writes.
        var env = new Dictionary<string, string> { ["HOME"] = _root, ["PG_PASSWORD"] = "s3cr3t-Value-17" };
        Directory.Move(_home.Root, Path.Combine(_root, ".dataspoc-pipe"));
        var home = new PipeHome(Path.Combine(_root, ".dataspoc-pipe"));
        var r = KubernetesRender.Render(home, new KubernetesRenderOptions { SecretName = "lake-env" }, n => env.GetValueOrDefault(n));

        var orders = r.Pipelines.Single(p => p.Pipeline == "orders");
        Assert.Equal(["PG_HOST", "PG_PASSWORD", "PG_SSLMODE", "LAKE_BUCKET"], orders.SecretVariables);
        var container = KubernetesObjects.Container(Assert.IsType<V1CronJob>(
            KubernetesObjects.LoadStrict(r.Files.Single(f => f.Path == "pipelines/pipe-orders.yaml").Text)[1]).Spec.JobTemplate.Spec.Template);
        // In the order the loader meets them: the tap config file (source.config), then destination.bucket.
        Assert.Equal(["HOME=/home/pipe", "DATASPOC_PIPE_HOME=/home/pipe/.dataspoc-pipe", "PG_HOST<-lake-env", "PG_PASSWORD<-lake-env", "PG_SSLMODE<-lake-env", "LAKE_BUCKET<-lake-env"],
            container.Env.Select(e => e.Value is not null ? $"{e.Name}={e.Value}" : $"{e.Name}<-{e.ValueFrom.SecretKeyRef.Name}"));
        Assert.All(container.Env.Where(e => e.ValueFrom is not null), e => Assert.Equal(e.Name, e.ValueFrom.SecretKeyRef.Key));
        foreach (var (path, text) in r.Files) Assert.DoesNotContain("s3cr3t-Value-17", text);
        Assert.DoesNotContain("s3cr3t-Value-17", r.ApplyStream);
    }

    [Fact]
    public void An_unscheduled_pipeline_gets_an_ad_hoc_Job_and_no_CronJob_under_a_valid_name()
    {
        var r = Render();
        var customers = r.Pipelines.Single(p => p.Pipeline == "customers_eu");
        Assert.Null(customers.Cron);
        Assert.Matches("^pipe-customers-eu-[0-9a-f]{6}$", customers.ObjectName);
        Assert.IsType<V1ConfigMap>(Assert.Single(KubernetesObjects.LoadStrict(r.Files.Single(f => f.Path == $"pipelines/{customers.ObjectName}.yaml").Text)));
        var job = Single<V1Job>(r, $"jobs/{customers.ObjectName}-run.yaml");
        // A name the API server completes: a second `kubectl create -f` within the hour the last Job is kept makes a new Job.
        Assert.Equal((null, customers.ObjectName + "-run-"), (job.Metadata.Name, job.Metadata.GenerateName));
        Assert.Equal(["run", "customers_eu"], KubernetesObjects.Container(job.Spec.Template).Args);
        Assert.Equal(3600, job.Spec.TtlSecondsAfterFinished);
        Assert.Null(job.Spec.ActiveDeadlineSeconds);
        Assert.Equal("customers_eu", job.Metadata.Annotations["dataspoc-pipe/pipeline"]);
    }

    [Fact]
    public void A_split_table_gets_an_Indexed_Job_whose_pods_read_one_part_each()
    {
        // orders.yaml has source.split: {column: id, parts: 4}; customers_eu has no split and gets no Indexed Job.
        var r = Render(new KubernetesRenderOptions());
        Assert.DoesNotContain(r.Files, f => f.Path.EndsWith("-split.yaml", StringComparison.Ordinal) && !f.Path.Contains("orders", StringComparison.Ordinal));
        var job = Single<V1Job>(r, "jobs/pipe-orders-split.yaml");
        Assert.Equal(("Indexed", 4, 4, 2), (job.Spec.CompletionMode, job.Spec.Completions, job.Spec.Parallelism, job.Spec.BackoffLimitPerIndex));
        Assert.Null(job.Spec.BackoffLimit);
        Assert.Equal("FailIndex", Assert.Single(job.Spec.PodFailurePolicy.Rules).Action);
        var container = KubernetesObjects.Container(job.Spec.Template);
        // The CLI reads JOB_COMPLETION_INDEX (set by Kubernetes in each pod of an Indexed Job) for --part auto, and the
        // split run's id from DATASPOC_SPLIT_RUN: the Job's uid, the same for every index and every retry.
        Assert.Equal(["run", "orders", "--part", "auto"], container.Args);
        var splitRun = Assert.Single(container.Env, e => e.Name == "DATASPOC_SPLIT_RUN");
        Assert.Equal("metadata.labels['batch.kubernetes.io/controller-uid']", splitRun.ValueFrom.FieldRef.FieldPath);
        Assert.DoesNotContain(KubernetesObjects.Container(Single<V1Job>(r, "jobs/pipe-orders-run.yaml").Spec.Template).Env, e => e.Name == "DATASPOC_SPLIT_RUN");
        // Each `kubectl create -f` makes a new Job, so a new uid: a new split run (a fixed name failed with AlreadyExists).
        Assert.Equal((null, "pipe-orders-split-"), (job.Metadata.Name, job.Metadata.GenerateName));

        // The longest object name with the most parts: the pods' hostname <job name>-<index> (the API server adds 5
        // characters to the prefix) stays a DNS label.
        var pipeline = File.ReadAllText(_home.PipelinePath("orders")).Replace("parts: 4", $"parts: {SplitSettings.MaxParts}");
        File.WriteAllText(Path.Combine(_home.PipelinesDirectory, new string('o', 60) + ".yaml"), pipeline);
        var longest = Render().Files.Single(f => f.Path.EndsWith("-split.yaml", StringComparison.Ordinal) && !f.Path.Contains("pipe-orders-split", StringComparison.Ordinal));
        var generated = Assert.IsType<V1Job>(Assert.Single(KubernetesObjects.LoadStrict(longest.Text))).Metadata.GenerateName;
        Assert.EndsWith("-split-", generated);
        Assert.True(generated.Length + 5 + $"-{SplitSettings.MaxParts - 1}".Length <= 63, generated);
    }

    [Fact]
    public void A_file_bucket_renders_with_a_warning_naming_the_pipeline_and_for_a_split_Job_that_no_part_commits()
    {
        Assert.Empty(Render().Warnings);
        File.WriteAllText(_home.PipelinePath("customers_eu"), File.ReadAllText(_home.PipelinePath("customers_eu")).Replace("az://lake/eu", "file:///srv/lake"));
        File.WriteAllText(_home.PipelinePath("orders"), File.ReadAllText(_home.PipelinePath("orders")).Replace("${LAKE_BUCKET:-s3://my-company-datalake}", "${LAKE_BUCKET:-file:///tmp/lake}"));
        var warnings = Render().Warnings;
        Assert.Equal(2, warnings.Count);
        Assert.StartsWith("pipeline 'customers_eu' writes to file:///srv/lake, a folder inside the pod", warnings[0]);
        Assert.Contains("lost with its pod", warnings[0]);
        Assert.DoesNotContain("split Job", warnings[0]);
        Assert.StartsWith("pipeline 'orders' writes to file:///tmp/lake", warnings[1]);
        Assert.Contains("the pods of its split Job never see each other's staged parts, so none of them commits", warnings[1]);
        Assert.Contains("s3://, gs:// or az://", warnings[1]);
    }

    [Fact]
    public void Cloud_access_is_by_workload_identity_annotations_never_keys()
    {
        var r = Render(new KubernetesRenderOptions
        {
            AwsRoleArn = "arn:aws:iam::123456789012:role/lake-writer",
            GcpServiceAccount = "pipe@proj.iam.gserviceaccount.com",
            AzureClientId = "00000000-1111-2222-3333-444444444444",
        });
        var sa = Single<V1ServiceAccount>(r, "serviceaccount.yaml");
        Assert.Equal("arn:aws:iam::123456789012:role/lake-writer", sa.Metadata.Annotations["eks.amazonaws.com/role-arn"]);
        Assert.Equal("pipe@proj.iam.gserviceaccount.com", sa.Metadata.Annotations["iam.gke.io/gcp-service-account"]);
        Assert.Equal("00000000-1111-2222-3333-444444444444", sa.Metadata.Annotations["azure.workload.identity/client-id"]);
        // Azure's webhook injects the federated token only into pods that carry this label.
        var job = Single<V1Job>(r, "jobs/pipe-orders-run.yaml");
        Assert.Equal("true", job.Spec.Template.Metadata.Labels["azure.workload.identity/use"]);
        Assert.Null(Single<V1ServiceAccount>(Render(), "serviceaccount.yaml").Metadata.Annotations);
    }

    [Fact]
    public void A_literal_password_is_refused_naming_the_file_and_key_without_its_value()
    {
        File.WriteAllText(_home.SourceConfigPath("orders"), File.ReadAllText(_home.SourceConfigPath("orders")).Replace("${PG_PASSWORD}", "hunter2-literal"));
        var e = Assert.Throws<ConfigException>(() => Render());
        Assert.Equal(_home.SourceConfigPath("orders"), e.File);
        Assert.Equal("password", e.Key);
        Assert.Contains("ConfigMap", e.Message);
        Assert.DoesNotContain("hunter2", e.Message);

        File.WriteAllText(_home.SourceConfigPath("orders"), File.ReadAllText(_home.SourceConfigPath("orders")).Replace("hunter2-literal", "${PG_PASSWORD}"));
        File.AppendAllText(_home.PipelinePath("customers_eu"), "  storage_options:\n    account_key: abc123literal\n");
        var inYaml = Assert.Throws<ConfigException>(() => Render());
        Assert.Equal(("destination.storage_options.account_key", 9), (inYaml.Key, inYaml.Line ?? 0));
        Assert.DoesNotContain("abc123literal", inYaml.Message);
    }

    [Fact]
    public void Config_yaml_is_held_to_the_same_rules_a_literal_lineage_key_is_refused_and_its_variables_come_from_the_Secret()
    {
        // config.yaml is rendered into every pipeline's ConfigMap, and every run reads its openlineage block.
        var settings = File.ReadAllText(_home.ConfigPath);
        File.AppendAllText(_home.ConfigPath, "openlineage:\n  transport:\n    type: http\n    url: http://127.0.0.1:9\n    api_key: LEAKolkey12345\n");
        var key = Assert.Throws<ConfigException>(() => Render());
        Assert.Equal((_home.ConfigPath, "openlineage.transport.api_key", 10), (key.File, key.Key, key.Line ?? 0));
        Assert.Contains("ConfigMap", key.Message);
        Assert.DoesNotContain("LEAKolkey12345", key.ToString());

        File.WriteAllText(_home.ConfigPath, settings + "openlineage:\n  transport:\n    type: http\n    url: http://u:LEAKolpw@127.0.0.1:9\n");
        var url = Assert.Throws<ConfigException>(() => Render());
        Assert.Equal((_home.ConfigPath, "openlineage.transport.url"), (url.File, url.Key));
        Assert.DoesNotContain("LEAKolpw", url.ToString());

        File.WriteAllText(_home.ConfigPath, settings + "openlineage:\n  transport:\n    type: http\n    url: http://u:${OL_PASSWORD}@127.0.0.1:9\n    api_key: ${MARQUEZ_API_KEY}\n");
        var r = Render();
        foreach (var name in new[] { "orders", "customers_eu" })
            Assert.Equal(["OL_PASSWORD", "MARQUEZ_API_KEY"], r.Pipelines.Single(p => p.Pipeline == name).SecretVariables.Where(v => v is "OL_PASSWORD" or "MARQUEZ_API_KEY"));
        var container = KubernetesObjects.Container(Assert.IsType<V1CronJob>(
            KubernetesObjects.LoadStrict(r.Files.Single(f => f.Path == "pipelines/pipe-orders.yaml").Text)[1]).Spec.JobTemplate.Spec.Template);
        Assert.Contains(container.Env, e => e.Name == "MARQUEZ_API_KEY" && e.ValueFrom.SecretKeyRef.Key == "MARQUEZ_API_KEY");
    }

    [Theory]
    [InlineData("sqlalchemy_url", "postgresql://u:PWinURL99@h/db", "PWinURL99")]
    [InlineData("options", "\"-c password=PWopt77 -c search_path=shop\"", "PWopt77")]
    [InlineData("dsn_params", "\"host=h sslmode=require api_key='AKopt55 x'\"", "AKopt55")]
    public void A_password_inside_a_literal_URL_or_option_string_is_refused_naming_the_pipeline_key_and_fix(string key, string value, string secret)
    {
        var pipeline = _home.PipelinePath("customers_eu");
        File.WriteAllText(pipeline, File.ReadAllText(pipeline).Replace("tap: csv", "tap: tap-postgres").Replace("  config:\n", $"  config:\n    {key}: {value}\n"));
        var e = Assert.Throws<ConfigException>(() => Render());
        Assert.Equal((pipeline, "source.config." + key), (e.File, e.Key));
        Assert.Contains("pipeline 'customers_eu'", e.Message);
        Assert.Contains("${VAR}", e.Message);
        Assert.Contains("Secret", e.Message);
        Assert.DoesNotContain(secret, e.ToString());

        // The same string with the password as ${VAR} renders, the variable read from the Secret.
        File.WriteAllText(pipeline, File.ReadAllText(pipeline).Replace(secret, "${PG_PASSWORD}"));
        Assert.Contains("PG_PASSWORD", Render().Pipelines.Single(p => p.Pipeline == "customers_eu").SecretVariables);
    }

    [Fact]
    public void A_literal_password_as_a_variables_default_is_refused_as_a_literal_secret()
    {
        // The Secret's keys are optional: without PG_PASSWORD in it the pod runs with the default, rendered into the ConfigMap.
        var config = File.ReadAllText(_home.SourceConfigPath("orders"));
        File.WriteAllText(_home.SourceConfigPath("orders"), config.Replace("${PG_PASSWORD}", "${PG_PASSWORD:-Lit3ralPw99}"));
        var e = Assert.Throws<ConfigException>(() => Render());
        Assert.Equal((_home.SourceConfigPath("orders"), "password"), (e.File, e.Key));
        Assert.Contains("holds a literal secret as the default of a ${VAR:-default}", e.Message);
        Assert.Contains("write it as ${VAR} without a default", e.Message);
        Assert.DoesNotContain("Lit3ralPw99", e.ToString());

        // Inside an option string, too.
        File.WriteAllText(_home.SourceConfigPath("orders"), config);
        var pipeline = _home.PipelinePath("customers_eu");
        File.WriteAllText(pipeline, File.ReadAllText(pipeline).Replace("tap: csv", "tap: tap-postgres")
            .Replace("  config:\n", "  config:\n    options: \"-c password=${PGPW:-PWopt77} -c search_path=shop\"\n"));
        var inOptions = Assert.Throws<ConfigException>(() => Render());
        Assert.Equal((pipeline, "source.config.options"), (inOptions.File, inOptions.Key));
        Assert.DoesNotContain("PWopt77", inOptions.ToString());

        // An empty default is no secret.
        File.WriteAllText(pipeline, File.ReadAllText(pipeline).Replace("${PGPW:-PWopt77}", "${PGPW:-}"));
        Assert.Contains("PGPW", Render().Pipelines.Single(p => p.Pipeline == "customers_eu").SecretVariables);
    }

    [Fact]
    public void A_tap_config_outside_the_home_or_streams_without_a_cached_catalog_are_refused_with_the_fix()
    {
        var outside = Path.Combine(_root, "elsewhere.json");
        File.Copy(_home.SourceConfigPath("orders"), outside);
        File.WriteAllText(_home.PipelinePath("orders"), File.ReadAllText(_home.PipelinePath("orders")).Replace("sources/orders.json", "../../elsewhere.json"));
        var e = Assert.Throws<ConfigException>(() => Render());
        Assert.Equal(("source.config", true), (e.Key, e.Message.Contains("outside the home folder", StringComparison.Ordinal)));

        File.WriteAllText(_home.PipelinePath("orders"), File.ReadAllText(_home.PipelinePath("orders")).Replace("../../elsewhere.json", outside));
        Assert.Contains("absolute path", Assert.Throws<ConfigException>(() => Render()).Message);

        File.WriteAllText(_home.PipelinePath("orders"), File.ReadAllText(_home.PipelinePath("orders")).Replace(outside, "sources/orders.json") + "  streams: [public-orders]\n");
        File.WriteAllText(_home.PipelinePath("orders"), File.ReadAllText(_home.PipelinePath("orders")).Replace("  streams: [public-orders]\n", "").Replace("  timeout: 2h\n", "  timeout: 2h\n  streams: [public-orders]\n"));
        var streams = Assert.Throws<ConfigException>(() => Render());
        Assert.Equal("source.streams", streams.Key);
        Assert.Contains("dataspoc-pipe streams orders", streams.Message);

        File.WriteAllText(Path.Combine(_home.PipelinesDirectory, "orders.catalog.json"), "{\"streams\": []}");
        var configMap = Assert.IsType<V1ConfigMap>(KubernetesObjects.LoadStrict(Render().Files.Single(f => f.Path == "pipelines/pipe-orders.yaml").Text)[0]);
        Assert.Equal("{\"streams\": []}", configMap.Data["catalog.json"]);
    }

    [Fact]
    public void The_cached_tap_answer_rides_in_the_ConfigMap_at_its_path_so_a_read_only_pod_home_need_not_ask_the_tap()
    {
        var cache = Path.Combine(_home.PipelinesDirectory, "orders.tap.json");
        var before = Assert.IsType<V1ConfigMap>(KubernetesObjects.LoadStrict(Render().Files.Single(f => f.Path == "pipelines/pipe-orders.yaml").Text)[0]);
        Assert.False(before.Data.ContainsKey("tap.json"));
        File.WriteAllText(cache, """{"tap": "tap-postgres", "can_discover": true, "catalog_flags": ["--properties"], "origin": "--help"}""");

        var objects = KubernetesObjects.LoadStrict(Render().Files.Single(f => f.Path == "pipelines/pipe-orders.yaml").Text);
        var configMap = Assert.IsType<V1ConfigMap>(objects[0]);
        Assert.Equal(File.ReadAllText(cache), configMap.Data["tap.json"]);
        var volume = Assert.Single(Assert.IsType<V1CronJob>(objects[1]).Spec.JobTemplate.Spec.Template.Spec.Volumes, v => v.Name == "home");
        Assert.Equal("pipelines/orders.tap.json", Assert.Single(volume.ConfigMap.Items, i => i.Key == "tap.json").Path);
    }

    [Fact]
    public void The_cached_catalog_rides_in_the_ConfigMap_at_its_path_also_without_source_streams_so_a_pod_compares_with_it()
    {
        var cache = Path.Combine(_home.PipelinesDirectory, "orders.catalog.json");
        File.WriteAllText(cache, "{\"streams\": []}");

        var objects = KubernetesObjects.LoadStrict(Render().Files.Single(f => f.Path == "pipelines/pipe-orders.yaml").Text);
        var configMap = Assert.IsType<V1ConfigMap>(objects[0]);
        Assert.Equal(File.ReadAllText(cache), configMap.Data["catalog.json"]);
        var volume = Assert.Single(Assert.IsType<V1CronJob>(objects[1]).Spec.JobTemplate.Spec.Template.Spec.Volumes, v => v.Name == "home");
        Assert.Equal("pipelines/orders.catalog.json", Assert.Single(volume.ConfigMap.Items, i => i.Key == "catalog.json").Path);
    }

    [Fact]
    public void kubectl_kustomize_renders_the_written_folder_into_the_same_objects_in_the_namespace()
    {
        var dir = Path.Combine(_root, "out");
        var r = Render();
        r.WriteTo(dir);
        var objects = KubernetesObjects.LoadStrict(KubernetesObjects.Kustomize(dir));
        Assert.Equal(["ServiceAccount", "ConfigMap", "ConfigMap", "CronJob"], objects.Select(o => o.Kind));
        Assert.All(objects, o => Assert.Equal("data", ((IMetadata<V1ObjectMeta>)o).Metadata.NamespaceProperty));
        var configMap = objects.OfType<V1ConfigMap>().Single(c => c.Metadata.Name == "pipe-orders");
        Assert.Equal(File.ReadAllText(_home.PipelinePath("orders")), configMap.Data["pipeline.yaml"]);
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}

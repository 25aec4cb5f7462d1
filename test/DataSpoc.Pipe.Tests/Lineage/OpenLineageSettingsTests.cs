using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Lineage;

namespace DataSpoc.Pipe.Tests.Lineage;

public sealed class OpenLineageSettingsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dsp-ol-settings-").FullName;
    private string ConfigYaml => Path.Combine(_dir, "config.yaml");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Func<string, string?> Env(params (string Name, string Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void Unconfigured_means_off()
    {
        Assert.Null(OpenLineageSettings.Load(ConfigYaml, Env()));
        File.WriteAllText(ConfigYaml, "defaults:\n  compression: zstd\n");
        Assert.Null(OpenLineageSettings.Load(ConfigYaml, Env()));
    }

    [Fact]
    public void The_standard_variables_configure_the_http_transport()
    {
        var s = OpenLineageSettings.Load(ConfigYaml, Env(("OPENLINEAGE_URL", "http://marquez:5000"), ("OPENLINEAGE_API_KEY", "k1"), ("OPENLINEAGE_NAMESPACE", "team")))!;
        Assert.Equal(("http", "http://marquez:5000/api/v1/lineage", "k1", "team"), (s.Transport, s.EventsUrl!.ToString(), s.ApiKey, s.Namespace));
        Assert.Null(OpenLineageSettings.Load(ConfigYaml, Env(("OPENLINEAGE_URL", "http://marquez:5000"), ("OPENLINEAGE_DISABLED", "true"))));
    }

    [Fact]
    public void Config_yaml_takes_an_http_or_file_transport_and_the_variables_win()
    {
        File.WriteAllText(ConfigYaml, """
            defaults:
              path: raw
            openlineage:
              namespace: lake-jobs
              transport:
                type: http
                url: https://collector.example/base
                endpoint: /v1/events
                api_key: ${OL_KEY}
                timeout: 2s
            """);
        var s = OpenLineageSettings.Load(ConfigYaml, Env(("OL_KEY", "secret-key")))!;
        Assert.Equal(("https://collector.example/base/v1/events", "secret-key", "lake-jobs", TimeSpan.FromSeconds(2)), (s.EventsUrl!.ToString(), s.ApiKey, s.Namespace, s.Timeout));
        Assert.Equal("other", OpenLineageSettings.Load(ConfigYaml, Env(("OL_KEY", "k"), ("OPENLINEAGE_NAMESPACE", "other")))!.Namespace);
        Assert.Equal("raw", PipeDefaults.Load(ConfigYaml, Env(("OL_KEY", "k"))).Path);

        File.WriteAllText(ConfigYaml, "openlineage:\n  transport: {type: file, path: /tmp/lineage.jsonl}\n");
        var f = OpenLineageSettings.Load(ConfigYaml, Env())!;
        Assert.Equal(("file", "/tmp/lineage.jsonl", "dataspoc-pipe"), (f.Transport, f.FilePath, f.Namespace));
    }

    [Fact]
    public void A_bad_openlineage_block_is_an_error_naming_file_line_and_key()
    {
        File.WriteAllText(ConfigYaml, "openlineage:\n  transport:\n    type: kafka\n");
        var e = Assert.Throws<ConfigException>(() => OpenLineageSettings.Load(ConfigYaml, Env()));
        Assert.Equal($"{ConfigYaml}:3: openlineage.transport.type: expected http or file, got 'kafka'", e.Message);

        File.WriteAllText(ConfigYaml, "openlineage:\n  transport:\n    type: http\n    url: ftp://x\n");
        e = Assert.Throws<ConfigException>(() => OpenLineageSettings.Load(ConfigYaml, Env()));
        Assert.Equal($"{ConfigYaml}:4: openlineage.transport.url: expected an http:// or https:// URL", e.Message);

        File.WriteAllText(ConfigYaml, "openlineage:\n  transport:\n    type: http\n    urll: http://x\n");
        e = Assert.Throws<ConfigException>(() => OpenLineageSettings.Load(ConfigYaml, Env()));
        Assert.StartsWith($"{ConfigYaml}:4: openlineage.transport.urll: unknown key", e.Message);
    }
}

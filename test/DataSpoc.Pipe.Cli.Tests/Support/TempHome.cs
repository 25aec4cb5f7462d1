using System.Collections;

namespace DataSpoc.Pipe.Cli.Tests.Support;

/// <summary>
/// A private world for one CLI test: a temporary HOME, DATASPOC_PIPE_HOME inside it, a file:// lake, and a
/// crontab stand-in keeping its table in a file. Deleted on dispose.
/// </summary>
public sealed class TempHome : IDisposable
{
    private readonly Dictionary<string, string?> _extra = new(StringComparer.Ordinal);

    public TempHome()
    {
        Root = Path.Combine(Path.GetTempPath(), "dsp-cli-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(Lake);
    }

    public string Root { get; }
    public string Home => Path.Combine(Root, "pipe-home");
    public string Lake => Path.Combine(Root, "lake");
    public string Bucket => "file://" + Lake;
    public string CrontabFile => Path.Combine(Root, "crontab.txt");
    public string Pipelines => Path.Combine(Home, "pipelines");
    public string Sources => Path.Combine(Home, "sources");

    /// <summary>The private temp folder a run of this home uses: <c>$TMPDIR/dataspoc-pipe-&lt;uid&gt;</c>.</summary>
    public string PrivateTemp => Path.Combine(Root, "tmp", "dataspoc-pipe-" + geteuid());

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern uint geteuid();

    public TempHome Set(string name, string? value)
    {
        _extra[name] = value;
        return this;
    }

    public void Apply(IDictionary<string, string?> env)
    {
        env["HOME"] = Root;
        env["DATASPOC_PIPE_HOME"] = Home;
        env["DATASPOC_PIPE_CRONTAB"] = "sh " + CliProcess.Asset("fake_crontab.sh");
        env["CRONTAB_FILE"] = CrontabFile;
        env["NO_COLOR"] = "1";
        env["TMPDIR"] = Path.Combine(Root, "tmp");
        Directory.CreateDirectory(Path.Combine(Root, "tmp"));
        foreach (var (k, v) in _extra) env[k] = v;
    }

    /// <summary>
    /// Writes pipeline <paramref name="name"/>: the shop tap into bucket <c>s3://lake-hang</c> behind <paramref name="stalled"/>,
    /// an endpoint that never answers, with S3 credentials it never gets to check.
    /// </summary>
    public void WriteStalledPipeline(string name, StalledEndpoint stalled)
    {
        Set("AWS_ACCESS_KEY_ID", "AKIATESTSTALLED").Set("AWS_SECRET_ACCESS_KEY", "not-a-real-secret");
        WritePipeline(name, $$"""
            source:
              tap: {{CliProcess.ShopTap}}
            destination:
              bucket: s3://lake-hang
              storage_options: {endpoint_url: "{{stalled.Url}}", region: us-east-1}
            """);
    }

    /// <summary>Writes <c>pipelines/&lt;name&gt;.yaml</c> (creating the home first).</summary>
    public string WritePipeline(string name, string yaml)
    {
        Directory.CreateDirectory(Pipelines);
        Directory.CreateDirectory(Sources);
        var path = Path.Combine(Pipelines, name + ".yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    /// <summary>A pipeline running the test tap into this home's lake.</summary>
    public string WriteShopPipeline(string name, string extraSource = "", string tapArgs = "", string extraTop = "")
    {
        return WritePipeline(name, $"""
            source:
              tap: {CliProcess.ShopTap}{tapArgs}
            {extraSource}destination:
              bucket: {Bucket}
              path: raw
            incremental:
              enabled: true
            {extraTop}
            """);
    }

    /// <summary>Puts a run log in this home's lake where a run of its pipeline writes one (a history without running it).</summary>
    public void WriteRunLog(DataSpoc.Pipe.Lake.RunLog log)
    {
        var path = Path.Combine(Lake, DataSpoc.Pipe.Lake.LakePaths.LogKey(log.Pipeline, log.StartedAt, log.RunId));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, DataSpoc.Pipe.Lake.LakeJson.Serialize(log));
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

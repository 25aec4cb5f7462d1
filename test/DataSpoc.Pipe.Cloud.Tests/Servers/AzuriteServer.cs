namespace DataSpoc.Pipe.Cloud.Tests.Servers;

/// <summary>Azurite's blob service (npm <c>azurite</c>) in memory on a free loopback port.</summary>
public sealed class AzuriteServer : IAsyncDisposable
{
    /// <summary>Azurite's fixed, publicly documented development account key (not a secret).</summary>
    public const string AccountName = "devstoreaccount1";
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private ServerProcess? _process;

    public int Port { get; private set; }

    public string BlobEndpoint => $"http://127.0.0.1:{Port}/{AccountName}";

    public string ConnectionString(int? port = null) =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};BlobEndpoint=http://127.0.0.1:{port ?? Port}/{AccountName};";

    public async Task StartAsync()
    {
        (_process, Port) = await ServerProcess.StartOnFreePortAsync(TestTools.NodeBinary("azurite-blob"),
            port => ["--blobHost", "127.0.0.1", "--blobPort", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--inMemoryPersistence", "--skipApiVersionCheck", "--silent"],
            ServerProcess.StartTimeout);
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null) await _process.DisposeAsync();
    }
}

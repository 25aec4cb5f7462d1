using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>
/// A real PostgreSQL server from Debian's packages, started on 127.0.0.1 on a free port in a temp directory and
/// stopped afterwards. As root, initdb and the server run as the <c>postgres</c> OS user. Missing binaries fail the
/// tests (run <c>.ci/setup</c>), they never skip.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    public const string Password = "s3cret-pw";
    private string _dir = "";
    private string _bin = "";
    private bool _asPostgresUser;

    public int Port { get; private set; }

    public string ConnectionString(string database = "postgres")
        => new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = "postgres", Password = Password, Database = database, Pooling = false }.ConnectionString;

    public async Task InitializeAsync()
    {
        var initdb = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin", "initdb")).Where(File.Exists).OrderDescending().FirstOrDefault()
            : null;
        if (initdb is null)
            throw new InvalidOperationException("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: run .ci/setup (it apt-installs postgresql)");
        _bin = Path.GetDirectoryName(initdb)!;
        _asPostgresUser = Environment.IsPrivilegedProcess;
        _dir = Path.Combine(Path.GetTempPath(), "dataspoc-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dir);
        var pwFile = Path.Combine(_dir, "pw");
        await File.WriteAllTextAsync(pwFile, Password);
        if (_asPostgresUser) await RunAsync("chown", ["-R", "postgres:postgres", _dir], asPostgres: false);
        await RunAsync(Path.Combine(_bin, "initdb"), ["-D", Path.Combine(_dir, "data"), "-U", "postgres", "--pwfile", pwFile, "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-locale"], _asPostgresUser);
        // A port found free can be taken by another process before the server binds it: then pg_ctl fails, and the
        // server is started again on a fresh port.
        for (var attempt = 1; ; attempt++)
        {
            Port = FreePort();
            try
            {
                await RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_dir, "data"), "-l", Path.Combine(_dir, "log"), "-w", "-t", "60",
                    // Each test's database keeps its own Npgsql pool of idle connections (closed after 5 idle minutes), and split
                    // runs open one per part: the default 100 connections ran out in a full suite ("too many clients already").
                    "-o", $"-k {_dir} -p {Port} -h 127.0.0.1 -c fsync=off -c max_connections=400", "start"], _asPostgresUser);
                return;
            }
            catch (InvalidOperationException) when (attempt < 5 && File.ReadAllText(Path.Combine(_dir, "log")).Contains("Address already in use", StringComparison.Ordinal))
            {
            }
        }
    }

    public async Task DisposeAsync()
    {
        if (_bin.Length == 0) return;
        try { await RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop"], _asPostgresUser); }
        catch (InvalidOperationException) { }
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Creates a fresh database and runs <paramref name="sql"/> in it.</summary>
    public async Task<string> CreateDatabaseAsync(string sql)
    {
        var name = "t_" + Guid.NewGuid().ToString("N")[..10];
        await ExecuteAsync("postgres", $"CREATE DATABASE {name}");
        await ExecuteAsync(name, sql);
        return name;
    }

    public async Task ExecuteAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString(database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static async Task RunAsync(string file, string[] args, bool asPostgres)
    {
        var start = new ProcessStartInfo(asPostgres ? "runuser" : file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        if (asPostgres) { start.ArgumentList.Add("-u"); start.ArgumentList.Add("postgres"); start.ArgumentList.Add("--"); start.ArgumentList.Add(file); }
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}{await stdout}");
    }
}

[CollectionDefinition("postgres")]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>;

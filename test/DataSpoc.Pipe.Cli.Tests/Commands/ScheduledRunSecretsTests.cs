using System.Diagnostics;
using DataSpoc.Pipe.Cli.Tests.Support;
using DataSpoc.Pipe.Tests.Sources.BuiltIn;

namespace DataSpoc.Pipe.Cli.Tests.Commands;

/// <summary>
/// A scheduled run as cron starts it: the installed crontab line through <c>sh -c</c> under <c>env -i</c> with cron's
/// minimal environment, so the only place the database password can come from is the home's <c>.env</c>.
/// </summary>
[Collection("postgres")]
public sealed class ScheduledRunSecretsTests(PostgresServer server) : IDisposable
{
    private const string RolePassword = "cr0n-role-pw-5d8e";
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    private string EnvFile => Path.Combine(_home.Home, ".env");

    [Fact]
    public async Task The_installed_line_run_the_way_cron_runs_it_reads_the_password_from_env_and_lands_the_rows()
    {
        var role = "cron_" + Guid.NewGuid().ToString("N")[..8];
        var db = await server.CreateDatabaseAsync($"""
            CREATE TABLE public.orders (id int4 PRIMARY KEY, amount numeric(10,2));
            INSERT INTO orders VALUES (1, 10.50), (2, 3.25), (3, 7.00);
            CREATE ROLE {role} LOGIN PASSWORD '{RolePassword}';
            GRANT SELECT ON orders TO {role};
            """);
        Assert.Equal(0, CliProcess.Run(_home, "init").ExitCode);
        _home.WritePipeline("pgcron", $$"""
            source:
              tap: postgres
              config:
                host: 127.0.0.1
                port: {{server.Port}}
                user: {{role}}
                password: ${CRON_PG_PASSWORD}
                dbname: {{db}}
                sslmode: disable
            destination:
              bucket: {{_home.Bucket}}
            schedule:
              cron: "*/5 * * * *"
            """);

        // Installed from a shell that does not have the password: it installs and says what is missing.
        var install = CliProcess.Run(_home, "schedule", "install");
        Assert.True(install.ExitCode == 0, install.ToString());
        Assert.Contains("warning: pipeline 'pgcron': ${CRON_PG_PASSWORD} (", install.Stderr);
        var line = File.ReadAllText(_home.CrontabFile).TrimEnd('\n');
        Assert.DoesNotContain("CRON_PG_PASSWORD", line);
        var command = line["*/5 * * * * ".Length..];

        // A wrong password in .env: the scheduled run reaches the server and is turned away (the secret really matters).
        File.WriteAllText(EnvFile, "CRON_PG_PASSWORD=not-the-password\n");
        Assert.NotEqual(0, RunLikeCron(command));
        Assert.Contains("password authentication failed", File.ReadAllText(Path.Combine(_home.Home, "logs", "pgcron.log")));
        var raw = Path.Combine(_home.Lake, "raw");
        Assert.Empty(Directory.Exists(raw) ? Directory.GetFiles(raw, "*.parquet", SearchOption.AllDirectories) : []);

        File.WriteAllText(EnvFile, $"# for scheduled runs\nexport CRON_PG_PASSWORD='{RolePassword}'\n");
        Assert.Equal("", CliProcess.Run(_home, "schedule", "install").Stderr);
        Assert.Equal(0, RunLikeCron(command));
        var rows = LakeReader.Rows($"{_home.Lake}/raw/postgres/public-orders/dt=*/*.parquet", "id, amount::VARCHAR", "id");
        Assert.Equal([[1L, "10.50"], [2L, "3.25"], [3L, "7.00"]], rows);
        var log = File.ReadAllText(Path.Combine(_home.Home, "logs", "pgcron.log"));
        Assert.Contains("pgcron: run ", log);
        Assert.DoesNotContain(RolePassword, log);
    }

    /// <summary>Runs a crontab command as cron does: <c>sh -c</c> with only HOME, LOGNAME, PATH and SHELL set.</summary>
    private int RunLikeCron(string command)
    {
        var psi = new ProcessStartInfo("env", ["-i", "HOME=" + _home.Root, "LOGNAME=" + Environment.UserName, "PATH=/usr/bin:/bin", "SHELL=/bin/sh", "/bin/sh", "-c", command])
        {
            UseShellExecute = false,
        };
        using var process = Process.Start(psi)!;
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("the crontab line did not finish in 2 minutes: " + command);
        }
        return process.ExitCode;
    }
}

using System.Globalization;
using DuckDB.NET.Data;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Api.Tests;

/// <summary>A temporary DATASPOC_PIPE_HOME with a file:// lake beside it, and DuckDB to read the lake back.</summary>
public sealed class TempHome : IDisposable
{
    public TempHome()
    {
        Root = Path.Combine(Path.GetTempPath(), "dsp-api-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Path.Combine(Root, "home", "pipelines"));
        Directory.CreateDirectory(Path.Combine(Root, "lake"));
        Directory.CreateDirectory(Path.Combine(Root, "inputs"));
    }

    public string Root { get; }

    /// <summary>A pipeline name unique to this home: the engine keys its temp folders by pipeline name, machine-wide.</summary>
    public string Name(string name) => name + "-" + Path.GetFileName(Root)[^6..];
    public string Home => Path.Combine(Root, "home");
    public string Lake => Path.Combine(Root, "lake");
    public string Bucket => "file://" + Lake;
    /// <summary>The table of this home's crontab stand-in (see <see cref="CrontabStandIn"/>).</summary>
    public string CrontabFile => Path.Combine(Root, "crontab.txt");
    public static string ReplayTap => "python3 " + Path.Combine(AppContext.BaseDirectory, "Assets", "replay_tap.py");

    public string WriteSinger(string name, params string[] lines)
    {
        var path = Path.Combine(Root, "inputs", name);
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    public void WritePipeline(string name, string yaml) => File.WriteAllText(Path.Combine(Home, "pipelines", name + ".yaml"), yaml);

    public List<List<string?>> Query(string sql)
    {
        using var conn = new DuckDBConnection("DataSource=:memory:");
        conn.Open();
        using var cmd = conn.CreateCommand();
        cmd.CommandText = sql.Replace("{lake}", Lake);
        using var reader = cmd.ExecuteReader();
        var rows = new List<List<string?>>();
        while (reader.Read())
        {
            var row = new List<string?>();
            for (var i = 0; i < reader.FieldCount; i++)
                row.Add(reader.IsDBNull(i) ? null : Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture));
            rows.Add(row);
        }
        return rows;
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, true); } catch (IOException) { }
    }
}

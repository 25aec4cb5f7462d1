using System.Collections.Concurrent;
using DuckDB.NET.Data;

namespace DataSpoc.Pipe.Tests.Support;

/// <summary>
/// In-memory DuckDB databases for reading lakes back, reused from one query to the next: opening one costs ~20 ms CPU
/// (and on a loaded 2-core machine ~120 ms wall), a query on an open one well under 1 ms, and the suite runs thousands.
/// Each is only ever used by one query at a time and only reads files, so nothing a query leaves behind is seen by
/// the next: the external file cache (which would keep a file's bytes between queries) is off, as in a fresh database,
/// and a database whose query threw is dropped, never reused.
/// </summary>
internal static class DuckDbSessions
{
    private static readonly ConcurrentBag<DuckDBConnection> Idle = [];

    /// <summary>Runs <paramref name="query"/> on an idle database (a new one when none is), with the session time zone UTC.</summary>
    public static T Use<T>(Func<DuckDBConnection, T> query)
    {
        var connection = Idle.TryTake(out var idle) ? idle : Open();
        T result;
        try
        {
            result = query(connection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
        Idle.Add(connection);
        return result;
    }

    private static DuckDBConnection Open()
    {
        var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SET TimeZone='UTC'; SET enable_external_file_cache = false";
        command.ExecuteNonQuery();
        return connection;
    }
}

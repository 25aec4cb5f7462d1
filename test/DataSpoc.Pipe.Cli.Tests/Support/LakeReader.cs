using DuckDB.NET.Data;

namespace DataSpoc.Pipe.Cli.Tests.Support;

/// <summary>Reads Parquet back with DuckDB, independently of the writer.</summary>
public static class LakeReader
{
    public static List<object?[]> Rows(string glob, string columns, string orderBy) =>
        Query($"SELECT {columns} FROM read_parquet('{glob}') ORDER BY {orderBy}");

    public static List<object?[]> Query(string sql)
    {
        using var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<object?[]>();
        while (reader.Read())
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++) row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            rows.Add(row);
        }
        return rows;
    }
}

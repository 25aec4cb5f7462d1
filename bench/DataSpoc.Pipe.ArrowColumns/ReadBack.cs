using DuckDB.NET.Data;

namespace DataSpoc.Pipe.ArrowColumns;

/// <summary>
/// Both files read back by DuckDB (an independent reader): the same column names and types, the same rows (a
/// symmetric EXCEPT ALL is empty), the same null counts, and the same row groups, codecs and encodings per column.
/// </summary>
internal static class ReadBack
{
    public static bool Compare(string a, string b)
    {
        using var db = new DuckDBConnection("Data Source=:memory:");
        db.Open();
        var ok = true;

        void Same(string what, string sqlOf)
        {
            var left = Rows(db, sqlOf.Replace("{f}", Quote(a)));
            var right = Rows(db, sqlOf.Replace("{f}", Quote(b)));
            var same = left.SequenceEqual(right);
            ok &= same;
            Console.WriteLine($"{(same ? "same" : "DIFFERENT")}: {what}");
            foreach (var row in left) Console.WriteLine("  " + row);
            if (!same)
                foreach (var row in right) Console.WriteLine("  other: " + row);
        }

        Same("column names and types", "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet({f}))");
        Same("rows and null counts", "SELECT count(*), count(*) - count(email), count(*) - count(amount), count(*) - count(country), " +
                                      "min(created_at), max(created_at), sum(id), sum(user_id), round(sum(amount), 2) FROM read_parquet({f})");
        Same("row groups", "SELECT count(DISTINCT row_group_id), min(row_group_num_rows), max(row_group_num_rows) FROM parquet_metadata({f})");
        Same("codec and encodings per column",
             "SELECT path_in_schema, string_agg(DISTINCT compression, ','), string_agg(DISTINCT encodings, ' | ' ORDER BY encodings) " +
             "FROM parquet_metadata({f}) GROUP BY path_in_schema ORDER BY path_in_schema");
        var differing = Rows(db, $"SELECT count(*) FROM ((SELECT * FROM read_parquet({Quote(a)}) EXCEPT ALL SELECT * FROM read_parquet({Quote(b)})) " +
                                 $"UNION ALL (SELECT * FROM read_parquet({Quote(b)}) EXCEPT ALL SELECT * FROM read_parquet({Quote(a)})))")[0];
        ok &= differing == "0";
        Console.WriteLine($"{(differing == "0" ? "same" : "DIFFERENT")}: every row (rows in one file and not the other: {differing})");
        Console.WriteLine(ok ? "read back identically in DuckDB" : "the files DIFFER");
        return ok;
    }

    private static string Quote(string path) => "'" + Path.GetFullPath(path).Replace("'", "''") + "'";

    private static List<string> Rows(DuckDBConnection db, string sql)
    {
        using var command = db.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
            rows.Add(string.Join('\t', Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "NULL"
                : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
        return rows;
    }
}

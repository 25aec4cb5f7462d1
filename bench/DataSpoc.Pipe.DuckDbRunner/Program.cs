using System.Diagnostics;
using System.Text.Json.Nodes;
using DataSpoc.Pipe.DuckDbRunner;
using DuckDB.NET.Data;

// The DuckDB side of the side-by-side benchmark: one Singer stream file -> one zstd Parquet file.
// Usage: DataSpoc.Pipe.DuckDbRunner <input.singer> <output.parquet> [typed|auto]
//        DataSpoc.Pipe.DuckDbRunner --sql "<query>"   (prints the result as TSV)
//   typed (default): the record columns' types come from the stream's SCHEMA message, as the pipe gets them.
//   auto: DuckDB infers the types itself by sampling (what a user would type by hand).
if (args.Length == 2 && args[0] == "--sql")
{
    // Ad-hoc inspection (row counts, parquet_metadata) for the script and for whoever reads the figures.
    using var inspect = new DuckDBConnection("Data Source=:memory:");
    inspect.Open();
    using var query = inspect.CreateCommand();
    query.CommandText = args[1];
    using var result = query.ExecuteReader();
    Console.WriteLine(string.Join('\t', Enumerable.Range(0, result.FieldCount).Select(result.GetName)));
    while (result.Read())
        Console.WriteLine(string.Join('\t', Enumerable.Range(0, result.FieldCount).Select(i => result.IsDBNull(i) ? "NULL" : Convert.ToString(result.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
    return 0;
}
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: DataSpoc.Pipe.DuckDbRunner <input.singer> <output.parquet> [typed|auto]");
    return 2;
}
var input = Path.GetFullPath(args[0]);
var output = Path.GetFullPath(args[1]);
var mode = args.Length > 2 ? args[2] : "typed";

string Quote(string s) => "'" + s.Replace("'", "''") + "'";

string readJson;
string stream;
if (mode == "typed")
{
    // Only the first line is read here; it is the SCHEMA message the generator writes first.
    using var reader = new StreamReader(input);
    var schemaMessage = JsonNode.Parse(reader.ReadLine() ?? throw new InvalidDataException($"{input} is empty"))!.AsObject();
    if ((string?)schemaMessage["type"] != "SCHEMA") throw new InvalidDataException($"{input}:1 is not a SCHEMA message");
    stream = (string)schemaMessage["stream"]!;
    var recordType = DuckDbTypes.ForRecord(schemaMessage["schema"]!.AsObject());
    readJson = $"read_json({Quote(input)}, format='newline_delimited', " +
               $"columns={{type: 'VARCHAR', stream: 'VARCHAR', record: {Quote(recordType)}}})";
}
else
{
    stream = "";
    readJson = $"read_json({Quote(input)}, format='newline_delimited')";
}

var where = stream.Length > 0 ? $"type = 'RECORD' AND stream = {Quote(stream)}" : "type = 'RECORD'";
var sql = $"COPY (SELECT unnest(record) FROM {readJson} WHERE {where}) TO {Quote(output)} (FORMAT parquet, COMPRESSION zstd)";

var clock = Stopwatch.StartNew();
using var connection = new DuckDBConnection("Data Source=:memory:");
connection.Open();
using var command = connection.CreateCommand();
command.CommandText = sql;
var rows = command.ExecuteNonQuery();
Console.Error.WriteLine($"duckdb: {rows} rows -> {output} in {clock.Elapsed.TotalSeconds:F2} s ({mode})");
return 0;

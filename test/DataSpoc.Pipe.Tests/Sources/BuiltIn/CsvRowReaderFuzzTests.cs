using System.Text;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Tests.Support;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>
/// Seeded random rows written as RFC 4180 text (quoted where a field needs it, or always; every line end; fields
/// long enough to cross the reader's 64K buffer, and line breaks placed right at its edge) read back field for field by
/// <see cref="CsvRowReader"/>: both its whole-line read of a line without quotes and its field-by-field read take part.
/// The seed is new every run and printed; <c>DATASPOC_FUZZ_SEED=n</c> replays a run.
/// </summary>
public sealed class CsvRowReaderFuzzTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Files = 400;
    private const int BufferChars = 1 << 16;

    private static readonly string[] Pieces =
        ["a", "b7", "", " ", "x y", "\"", "\"\"", ",", ";", "|", "\t", "\n", "\r\n", "\r", "é", "€", "😀", "#", "\\", "'", "0.5", "-12"];

    [Fact]
    public void Random_rows_written_as_csv_read_back_field_for_field()
    {
        var seed = FuzzSeed.FromEnvironment();
        output.WriteLine($"seed {seed} (replay with DATASPOC_FUZZ_SEED={seed})");
        var random = new Random(seed);
        for (var file = 0; file < Files; file++)
        {
            var delimiter = ",;|\t"[random.Next(4)];
            var lineEnd = new[] { "\n", "\r\n", "\r" }[random.Next(3)];
            var quoteAll = random.Next(4) == 0;
            var columns = 1 + random.Next(6);
            var rows = new List<string[]>();
            var text = new StringBuilder();
            // Rows up to and just past the buffer's edge, so the line break or quote landing there is hit in some files.
            var target = random.Next(2) == 0 ? BufferChars + random.Next(-8, 8) : random.Next(1, 4000);
            while (text.Length < target || rows.Count == 0)
            {
                var row = new string[columns];
                for (var c = 0; c < columns; c++) row[c] = Field(random, delimiter);
                // A row whose only field is empty is a blank line, which the reader reads as no field at all to the caller.
                if (columns == 1 && row[0].Length == 0) row[0] = "z";
                rows.Add(row);
                text.Append(string.Join(delimiter, row.Select(f => Written(f, delimiter, quoteAll)))).Append(lineEnd);
            }
            if (random.Next(5) == 0) text.Length -= lineEnd.Length; // no final line break

            var read = new List<string[]>();
            using (var reader = new CsvRowReader(new StringReader(text.ToString()), delimiter, '"'))
                while (reader.MoveNext())
                {
                    var fields = new string[reader.ColCount];
                    for (var i = 0; i < fields.Length; i++) fields[i] = reader[i].ToString();
                    read.Add(fields);
                }

            Assert.True(rows.Count == read.Count, $"seed {seed} file {file}: {rows.Count} rows written, {read.Count} read");
            for (var r = 0; r < rows.Count; r++)
                Assert.True(rows[r].SequenceEqual(read[r]),
                    $"seed {seed} file {file} row {r}: wrote [{string.Join("|", rows[r])}], read [{string.Join("|", read[r])}]");
        }
    }

    private static string Field(Random random, char delimiter)
    {
        if (random.Next(50) == 0) return new string('w', BufferChars / 2 + random.Next(BufferChars)); // crosses the buffer
        var field = new StringBuilder();
        for (var n = random.Next(5); n > 0; n--) field.Append(Pieces[random.Next(Pieces.Length)]);
        var text = field.ToString();
        // Spaces around a field the writer quotes are dropped by the reader (as DuckDB reads them): keep them inside.
        return text.Trim(' ').Length == text.Length ? text : "s" + text + "s";
    }

    /// <summary>As Python's <c>csv.writer</c> writes a field (QUOTE_MINIMAL, or QUOTE_ALL).</summary>
    private static string Written(string field, char delimiter, bool quoteAll)
    {
        var needs = quoteAll || field.Contains(delimiter) || field.Contains('"') || field.Contains('\n') || field.Contains('\r');
        return needs ? "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : field;
    }
}

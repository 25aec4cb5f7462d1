using System.Text;
using System.Text.Json;
using DataSpoc.Pipe.Parquet;
using DataSpoc.Pipe.Tests.Support;
using PipeCompression = DataSpoc.Pipe.Config.Compression;

namespace DataSpoc.Pipe.Tests.Parquet;

/// <summary>
/// A row group is written column after column on one thread while parsing runs, and split over two threads once the
/// input has ended. Both must store the same values: compared here with DuckDB, every column of every row.
/// </summary>
public class RowGroupEncodingTests
{
    [Fact]
    public void Split_and_sequential_row_groups_store_the_same_values()
    {
        var schema = ColumnSchema.FromJsonSchema(JsonDocument.Parse(CanonicalShreddingTests.SchemaJson).RootElement);
        var batch = new ColumnBatch(schema);
        var shredder = new RecordShredder();
        var random = new Random(7);
        for (var i = 0; i < 5000; i++)
        {
            var record = Encoding.UTF8.GetBytes(Record(i, random));
            var reader = new Utf8JsonReader(record);
            reader.Read();
            shredder.Shred(batch, ref reader);
        }

        using var lake = new TempLake();
        var folder = Path.Combine(lake.Root, "files");
        Directory.CreateDirectory(folder);
        using (var sequential = new ParquetBatchFile(Path.Combine(folder, "sequential.parquet"), schema, PipeCompression.Zstd, ParquetBatchFile.ChooseEncodings(batch)))
        {
            sequential.WriteRowGroup(batch);
            sequential.WriteRowGroup(batch);
            sequential.Close();
        }
        using (var split = new ParquetBatchFile(Path.Combine(folder, "split.parquet"), schema, PipeCompression.Zstd, ParquetBatchFile.ChooseEncodings(batch)))
        {
            split.WriteRowGroupOnTwoThreads(batch);
            split.WriteRowGroup(batch);
            split.Close();
        }

        const string columns = "id, price, ok, label, ts, day, customer.name, scores::varchar, lines::varchar, amount";
        var expected = lake.Query($"select {columns} from read_parquet('{{lake}}/files/sequential.parquet') order by id, ts");
        var actual = lake.Query($"select {columns} from read_parquet('{{lake}}/files/split.parquet') order by id, ts");
        Assert.Equal(10000, expected.Count);
        Assert.Equal(expected, actual);
        // And what was written is what went in, not merely the same twice.
        Assert.Equal(["40", "20", "true", null], expected[80][..4]);
        Assert.Equal(["41", "20.5", "false"], expected[82][..3]);
        Assert.Matches("^p+ 41$", expected[82][3]);
        Assert.Equal(["c41", "[0, 1]", "[{'sku': s41, 'qty': 41}]", "41.25"], expected[82][6..]);
        Assert.Equal(2, lake.Query("select count(*) from parquet_metadata('{lake}/files/split.parquet') group by row_group_id").Count);
    }

    private static string Record(int i, Random random)
    {
        var label = i % 5 == 0 ? "null" : $"\"{new string((char)('a' + i % 26), random.Next(1, 60))} {i}\"";
        var scores = i % 4 == 0 ? "null" : $"[{string.Join(',', Enumerable.Range(0, i % 3))}]";
        return $$"""{"id":{{i}},"price":{{i / 2.0}},"ok":{{(i % 2 == 0 ? "true" : "false")}},"label":{{label}},"ts":"2025-01-{{1 + i % 28:D2}}T10:{{i % 60:D2}}:00Z","day":"2025-02-{{1 + i % 28:D2}}","customer":{{(i % 3 == 0 ? "null" : $"{{\"name\":\"c{i}\"}}")}},"scores":{{scores}},"lines":[{"sku":"s{{i}}","qty":{{(i % 6 == 0 ? "null" : i.ToString())}}}],"amount":{{i}}.25}""";
    }
}

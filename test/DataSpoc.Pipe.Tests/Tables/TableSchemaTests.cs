using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Tables;
using DataSpoc.Pipe.Tests.Support;

namespace DataSpoc.Pipe.Tests.Tables;

/// <summary>
/// The schema an Iceberg or Delta table carries is the columns of its live files, as the manifest lists them: a column
/// only earlier files hold stays (Iceberg: optional, its id kept) until a replace, so table readers keep its values.
/// Values are read back by icebird (Iceberg) and by DuckDB over the files the Delta log lists.
/// </summary>
public class TableSchemaTests
{
    private static string SchemaOf(string stream, string columns) =>
        "{\"type\":\"SCHEMA\",\"stream\":\"" + stream + "\",\"key_properties\":[\"id\"],\"schema\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"}" + columns + "}}}";

    private static readonly string WithC = SchemaOf("ev", ""","c":{"type":["null","string"]}""");
    private static readonly string WithB = SchemaOf("ev", ""","b":{"type":["null","boolean"]}""");

    private static string Record(string json) => $$"""{"type":"RECORD","stream":"ev","record":{{json}}}""";

    private static PipelineDefinition Pipeline(TempLake lake, string input, TableFormats formats, WriteMode? mode = null) =>
        lake.Pipeline("ev", input, p => p with
        {
            Destination = p.Destination with { TableFormat = formats, WriteMode = mode ?? p.Destination.WriteMode, PartitionBy = mode == WriteMode.Merge ? PartitionBySettings.None : p.Destination.PartitionBy },
        });

    private static string TableDir(TempLake lake) => Path.Combine(lake.Root, "raw", "test", "ev");

    /// <summary>The current Iceberg schema's columns (<c>_extraction_date</c>, in no data file, left out) and their ids.</summary>
    private static List<(string Name, int Id)> IcebergColumns(TempLake lake)
    {
        var metadata = JsonNode.Parse(File.ReadAllText(new Uri(lake.Manifest().Tables["test/ev"].IcebergMetadata!).LocalPath))!;
        var current = metadata["schemas"]!.AsArray().Single(s => s!["schema-id"]!.GetValue<int>() == metadata["current-schema-id"]!.GetValue<int>())!;
        return [.. current["fields"]!.AsArray().Select(f => (f!["name"]!.GetValue<string>(), f["id"]!.GetValue<int>())).Where(f => f.Item1 != IcebergFieldIds.ExtractionDateColumn)];
    }

    private static List<string> DeltaColumns(TempLake lake)
    {
        var log = Directory.GetFiles(Path.Combine(TableDir(lake), "_delta_log"), "*.json").Order().Last();
        var meta = File.ReadAllLines(log).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!).Single(a => a["metaData"] is not null);
        return [.. JsonNode.Parse(meta["metaData"]!["schemaString"]!.GetValue<string>())!["fields"]!.AsArray()
            .Select(f => f!["name"]!.GetValue<string>()).Where(n => n != IcebergFieldIds.ExtractionDateColumn)];
    }

    /// <summary>The Delta table's rows: DuckDB over the files its log lists now.</summary>
    private static async Task<List<List<string?>>> DeltaRowsAsync(TempLake lake, string columns)
    {
        await using var store = new DataSpoc.Pipe.Storage.LocalObjectStore(DataSpoc.Pipe.Storage.BucketUri.Parse(lake.Bucket));
        var delta = new DeltaTable(store, TimeProvider.System);
        var version = await delta.LatestVersionAsync("raw/test/ev/", CancellationToken.None);
        var live = (await delta.LiveFilesAsync("raw/test/ev/", version, CancellationToken.None)).Keys;
        return lake.Query($"SELECT {columns} FROM read_parquet([" +
            string.Join(", ", live.Select(p => $"'{TableDir(lake)}/{Uri.UnescapeDataString(p)}'")) + "], union_by_name=true) ORDER BY id");
    }

    /// <summary>icebird's rows of the current snapshot as (id, the named columns' values as text).</summary>
    private static List<List<string?>> IcebirdRows(TempLake lake, params string[] columns) =>
        [.. TableReaders.Icebird("file://" + TableDir(lake))["rows"]!.AsArray()
            .Select(r => (List<string?>)[r!["id"]!.ToString(), .. columns.Select(c => r[c]?.ToString())])
            .OrderBy(r => long.Parse(r[0]!))];

    [Theory]
    [InlineData(TableFormats.Iceberg | TableFormats.Delta)]
    [InlineData(TableFormats.Delta)]
    public async Task A_column_only_earlier_files_hold_stays_in_the_table_schema_with_its_id_until_a_replace(TableFormats formats)
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(Pipeline(lake, lake.WriteSinger("a", WithC, Record("""{"id":1,"c":"keep me"}""")), formats))).Succeeded);
        var cId = formats.HasFlag(TableFormats.Iceberg) ? IcebergColumns(lake).Single(c => c.Name == "c").Id : 0;
        var second = await TempLake.RunAsync(Pipeline(lake, lake.WriteSinger("b", WithB, Record("""{"id":2,"b":true}""")), formats));
        Assert.True(second.Succeeded, second.Log.Error);

        Assert.Equal(["id", "b", "c"], lake.Manifest().Tables["test/ev"].Columns.Select(c => c.Name));
        Assert.Equal(["id", "b", "c"], DeltaColumns(lake));
        Assert.Equal([["1", "keep me", null], ["2", null, "true"]], await DeltaRowsAsync(lake, "id, c, b"));
        if (formats.HasFlag(TableFormats.Iceberg))
        {
            Assert.Equal(["id", "b", "c"], IcebergColumns(lake).Select(c => c.Name));
            Assert.Equal(cId, IcebergColumns(lake).Single(c => c.Name == "c").Id);
            Assert.Equal([["1", "keep me", null], ["2", null, "true"]], IcebirdRows(lake, "c", "b"));
        }

        // A replace leaves only the new files: their columns alone.
        Assert.True((await TempLake.RunAsync(Pipeline(lake, lake.WriteSinger("c", WithB, Record("""{"id":3,"b":false}""")), formats), full: true)).Succeeded);
        Assert.Equal(["id", "b"], lake.Manifest().Tables["test/ev"].Columns.Select(c => c.Name));
        Assert.Equal(["id", "b"], DeltaColumns(lake));
        if (formats.HasFlag(TableFormats.Iceberg)) Assert.Equal(["id", "b"], IcebergColumns(lake).Select(c => c.Name));
    }

    [Fact]
    public async Task A_column_of_a_mid_run_schema_is_in_the_table_schema_under_the_id_its_file_carries()
    {
        using var lake = new TempLake();
        var run = await TempLake.RunAsync(Pipeline(lake, lake.WriteSinger("a",
            WithB, Record("""{"id":1,"b":true}"""), WithC, Record("""{"id":2,"c":"c2"}"""), WithB, Record("""{"id":3,"b":false}""")),
            TableFormats.Iceberg | TableFormats.Delta));
        Assert.True(run.Succeeded, run.Log.Error);

        Assert.Equal(["id", "b", "c"], lake.Manifest().Tables["test/ev"].Columns.Select(c => c.Name));
        Assert.Equal(["id", "b", "c"], IcebergColumns(lake).Select(c => c.Name));
        Assert.Equal(["id", "b", "c"], DeltaColumns(lake));
        var cId = IcebergColumns(lake).Single(c => c.Name == "c").Id.ToString();
        Assert.Equal([cId], lake.Query("SELECT DISTINCT field_id::VARCHAR FROM parquet_schema('{lake}/raw/test/ev/**/*.parquet') WHERE name = 'c'").Select(r => r[0]));
        Assert.Equal([["1", null, "true"], ["2", "c2", null], ["3", null, "false"]], IcebirdRows(lake, "c", "b"));
    }

    [Fact]
    public async Task A_merge_that_rewrites_a_file_keeps_its_dropped_column_in_the_table_schema_under_the_id_the_rewritten_file_carries()
    {
        using var lake = new TempLake();
        const TableFormats formats = TableFormats.Iceberg | TableFormats.Delta;
        Assert.True((await TempLake.RunAsync(Pipeline(lake, lake.WriteSinger("a", WithC,
            Record("""{"id":1,"c":"c1"}"""), Record("""{"id":2,"c":"c2"}""")), formats, WriteMode.Merge))).Succeeded);
        var cId = IcebergColumns(lake).Single(c => c.Name == "c").Id;
        // Row 1 changes under a SCHEMA without 'c': its file is rewritten, row 2 keeps its 'c'.
        var merge = await TempLake.RunAsync(Pipeline(lake, lake.WriteSinger("b", WithB, Record("""{"id":1,"b":true}""")), formats, WriteMode.Merge));
        Assert.True(merge.Succeeded, merge.Log.Error);

        Assert.Equal(["id", "b", "c"], lake.Manifest().Tables["test/ev"].Columns.Select(c => c.Name));
        Assert.Equal(["id", "b", "c"], IcebergColumns(lake).Select(c => c.Name));
        Assert.Equal(cId, IcebergColumns(lake).Single(c => c.Name == "c").Id);
        Assert.Equal(["id", "b", "c"], DeltaColumns(lake));
        Assert.Equal([["1", null, "true"], ["2", "c2", null]], IcebirdRows(lake, "c", "b"));
        Assert.Equal([["1", null, "true"], ["2", "c2", null]], await DeltaRowsAsync(lake, "id, c, b"));
        // Every file holding 'c' (the first run's and the rewritten one) carries the schema's id for it.
        Assert.Equal([cId.ToString()], lake.Query("SELECT DISTINCT field_id::VARCHAR FROM parquet_schema('{lake}/raw/test/ev/*.parquet') WHERE name = 'c'").Select(r => r[0]));
    }

    private static readonly string WithNested = SchemaOf("ev", ""","v":{"type":["null","object"],"properties":{"x":{"type":["null","integer"]},"y":{"type":["null","string"]}}},"""
        + "\"" + """w":{"type":["null","array"],"items":{"type":"object","properties":{"a":{"type":["null","integer"]},"b":{"type":["null","string"]}}}}""");
    private static readonly string WithNestedLess = SchemaOf("ev", ""","v":{"type":["null","object"],"properties":{"x":{"type":["null","integer"]}}},"""
        + "\"" + """w":{"type":["null","array"],"items":{"type":"object","properties":{"a":{"type":["null","integer"]}}}}""");

    /// <summary>The current Iceberg schema's top-level field <paramref name="column"/>.</summary>
    private static JsonNode IcebergField(TempLake lake, string column)
    {
        var metadata = JsonNode.Parse(File.ReadAllText(new Uri(lake.Manifest().Tables["test/ev"].IcebergMetadata!).LocalPath))!;
        var current = metadata["schemas"]!.AsArray().Single(s => s!["schema-id"]!.GetValue<int>() == metadata["current-schema-id"]!.GetValue<int>())!;
        return current["fields"]!.AsArray().Single(f => f!["name"]!.GetValue<string>() == column)!;
    }

    /// <summary>The fields (<c>name:id</c>) of the current Iceberg schema's struct <c>v</c> and of list <c>w</c>'s struct element.</summary>
    private static (List<string> V, List<string> W) IcebergNestedFields(TempLake lake)
    {
        static List<string> Of(JsonNode structType) => [.. structType["fields"]!.AsArray().Select(f => $"{f!["name"]}:{f["id"]}")];
        return (Of(IcebergField(lake, "v")["type"]!), Of(IcebergField(lake, "w")["type"]!["element"]!));
    }

    /// <summary>The field names of the latest Delta schema's struct <paramref name="structColumn"/> and of array <c>w</c>'s struct element.</summary>
    private static (List<string> V, List<string> W) DeltaNestedFields(TempLake lake, string structColumn = "v")
    {
        var log = Directory.GetFiles(Path.Combine(TableDir(lake), "_delta_log"), "*.json").Order().Last();
        var meta = File.ReadAllLines(log).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!).Single(a => a["metaData"] is not null);
        var fields = JsonNode.Parse(meta["metaData"]!["schemaString"]!.GetValue<string>())!["fields"]!.AsArray();
        JsonNode Type(string name) => fields.Single(f => f!["name"]!.GetValue<string>() == name)!["type"]!;
        static List<string> Of(JsonNode structType) => [.. structType["fields"]!.AsArray().Select(f => f!["name"]!.GetValue<string>())];
        return (Of(Type(structColumn)), Of(Type("w")["elementType"]!));
    }

    [Theory]
    [InlineData(TableFormats.Iceberg | TableFormats.Delta)]
    [InlineData(TableFormats.Delta)]
    public async Task A_struct_field_only_earlier_files_hold_stays_in_the_table_schema_with_its_id(TableFormats formats)
    {
        using var lake = new TempLake();
        Assert.True((await TempLake.RunAsync(Pipeline(lake, lake.WriteSinger("a", WithNested, Record("""{"id":1,"v":{"x":1,"y":"y1"},"w":[{"a":1,"b":"b1"}]}""")), formats))).Succeeded);
        var ids = formats.HasFlag(TableFormats.Iceberg) ? IcebergNestedFields(lake) : default;
        var second = await TempLake.RunAsync(Pipeline(lake, lake.WriteSinger("b", WithNestedLess, Record("""{"id":2,"v":{"x":2},"w":[{"a":2}]}""")), formats));
        Assert.True(second.Succeeded, second.Log.Error);

        var deltaFields = DeltaNestedFields(lake);
        Assert.Equal(["x", "y"], deltaFields.V);
        Assert.Equal(["a", "b"], deltaFields.W);
        if (formats.HasFlag(TableFormats.Iceberg))
        {
            var now = IcebergNestedFields(lake);
            Assert.Equal(ids.V, now.V);
            Assert.Equal(ids.W, now.W);
            // The structs kept their ids: the run log does not call them new columns.
            var notice = Assert.Single(second.Log.Notices, n => n.Contains("Iceberg", StringComparison.Ordinal) && n.Contains("since the table's earlier files", StringComparison.Ordinal));
            Assert.Contains("each keeps its Iceberg field id", notice, StringComparison.Ordinal);
            Assert.DoesNotContain("a new field id", notice, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_struct_field_and_a_column_a_mid_run_schema_drops_stay_in_the_table_schema_under_the_ids_the_earlier_files_carry()
    {
        using var lake = new TempLake();
        var withAll = SchemaOf("ev", ""","t":{"type":["null","string"]},"c":{"type":["null","object"],"properties":{"x":{"type":["null","integer"]},"y":{"type":["null","string"]}}},"""
            + "\"" + """w":{"type":["null","array"],"items":{"type":"object","properties":{"a":{"type":["null","integer"]},"b":{"type":["null","string"]}}}}""");
        var withLess = SchemaOf("ev", ""","c":{"type":["null","object"],"properties":{"x":{"type":["null","integer"]}}},"""
            + "\"" + """w":{"type":["null","array"],"items":{"type":"object","properties":{"a":{"type":["null","integer"]}}}}""");
        // One run: the first SCHEMA's records go to a file of their own, with c.y, w[].b and t; the later SCHEMA drops them.
        var run = await TempLake.RunAsync(Pipeline(lake, lake.WriteSinger("a",
            withAll, Record("""{"id":1,"t":"t1","c":{"x":1,"y":"y1"},"w":[{"a":1,"b":"b1"}]}"""), Record("""{"id":2,"t":"t2","c":{"x":2,"y":"y2"},"w":[{"a":2,"b":"b2"}]}"""),
            withLess, Record("""{"id":3,"c":{"x":3},"w":[{"a":3}]}"""), Record("""{"id":4,"c":{"x":4},"w":[{"a":4}]}""")),
            TableFormats.Iceberg | TableFormats.Delta));
        Assert.True(run.Succeeded, run.Log.Error);

        List<List<string?>> expected = [["1", "1", "y1", "b1", "t1"], ["2", "2", "y2", "b2", "t2"], ["3", "3", null, null, null], ["4", "4", null, null, null]];
        // Iceberg: icebird reads the table through its schema, which names c.y, w[].b and t with the ids the first file carries.
        var icebergRows = TableReaders.Icebird("file://" + TableDir(lake))["rows"]!.AsArray()
            .Select(r => (List<string?>)[r!["id"]!.ToString(), r["c"]?["x"]?.ToString(), r["c"]?["y"]?.ToString(), r["w"]?[0]?["b"]?.ToString(), r["t"]?.ToString()])
            .OrderBy(r => r[0], StringComparer.Ordinal).ToList();
        Assert.Equal(expected, icebergRows);
        var c = IcebergField(lake, "c")["type"]!["fields"]!.AsArray();
        var w = IcebergField(lake, "w")["type"]!["element"]!["fields"]!.AsArray();
        Assert.Equal(["x", "y"], c.Select(f => f!["name"]!.GetValue<string>()));
        Assert.Equal(["a", "b"], w.Select(f => f!["name"]!.GetValue<string>()));
        string FileIds(string name) => string.Join(",", lake.Query($"SELECT DISTINCT field_id::VARCHAR FROM parquet_schema('{{lake}}/raw/test/ev/**/*.parquet') WHERE name = '{name}'").Select(r => r[0]));
        Assert.Equal(FileIds("y"), c.Single(f => f!["name"]!.GetValue<string>() == "y")!["id"]!.ToString());
        Assert.Equal(FileIds("b"), w.Single(f => f!["name"]!.GetValue<string>() == "b")!["id"]!.ToString());
        Assert.Equal(FileIds("t"), IcebergField(lake, "t")["id"]!.ToString());

        // Delta: the schema names them too, and the files its log lists hold their values.
        var deltaFields = DeltaNestedFields(lake, "c");
        Assert.Equal(["x", "y"], deltaFields.V);
        Assert.Equal(["a", "b"], deltaFields.W);
        Assert.Contains("t", DeltaColumns(lake));
        Assert.Equal(expected, await DeltaRowsAsync(lake, "id, c.x, c.y, w[1].b, t"));
        // The plain Parquet files read the same.
        Assert.Equal(expected, lake.Query("SELECT id, c.x, c.y, w[1].b, t FROM read_parquet('{lake}/raw/test/ev/**/*.parquet', union_by_name=true) ORDER BY id"));
    }

    [Fact]
    public async Task A_struct_field_whose_type_changed_mid_run_and_was_then_dropped_is_in_the_iceberg_schema_once_under_its_later_id()
    {
        using var lake = new TempLake();
        string WithC(string y) => SchemaOf("ev", ""","c":{"type":["null","object"],"properties":{"x":{"type":["null","integer"]}""" + y + "}}");
        var run = await TempLake.RunAsync(Pipeline(lake, lake.WriteSinger("a",
            WithC(""","y":{"type":["null","string"]}"""), Record("""{"id":1,"c":{"x":1,"y":"s"}}"""),
            WithC(""","y":{"type":["null","integer"]}"""), Record("""{"id":2,"c":{"x":2,"y":2}}"""),
            WithC(""), Record("""{"id":3,"c":{"x":3}}""")), TableFormats.Iceberg));
        Assert.True(run.Succeeded, run.Log.Error);

        // The type change gives y another id (the existing rule); the table keeps the later one, as across runs.
        var c = IcebergField(lake, "c")["type"]!["fields"]!.AsArray();
        var longY = lake.Query("SELECT DISTINCT field_id::VARCHAR FROM parquet_schema('{lake}/raw/test/ev/**/*.parquet') WHERE name = 'y' AND type = 'INT64'").Select(r => r[0]);
        Assert.Equal(["x", "y"], c.Select(f => f!["name"]!.GetValue<string>()));
        Assert.Equal(longY, [c[1]!["id"]!.ToString()]);
        Assert.Equal("long", c[1]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_merge_that_rewrites_a_file_keeps_its_struct_fields_the_schema_no_longer_declares_under_their_ids()
    {
        using var lake = new TempLake();
        const TableFormats formats = TableFormats.Iceberg | TableFormats.Delta;
        Assert.True((await TempLake.RunAsync(Pipeline(lake, lake.WriteSinger("a", WithNested,
            Record("""{"id":1,"v":{"x":1,"y":"y1"},"w":[{"a":1,"b":"b1"}]}"""), Record("""{"id":2,"v":{"x":2,"y":"y2"},"w":[{"a":2,"b":"b2"}]}""")), formats, WriteMode.Merge))).Succeeded);
        var ids = IcebergNestedFields(lake);
        // Row 1 changes under a SCHEMA without v.y and w[].b: its file is rewritten, row 2 keeps them.
        var merge = await TempLake.RunAsync(Pipeline(lake, lake.WriteSinger("b", WithNestedLess, Record("""{"id":1,"v":{"x":10},"w":[{"a":10}]}""")), formats, WriteMode.Merge));
        Assert.True(merge.Succeeded, merge.Log.Error);

        var now = IcebergNestedFields(lake);
        Assert.Equal(ids.V, now.V);
        Assert.Equal(ids.W, now.W);
        var deltaFields = DeltaNestedFields(lake);
        Assert.Equal(["x", "y"], deltaFields.V);
        Assert.Equal(["a", "b"], deltaFields.W);
        await using var store = new DataSpoc.Pipe.Storage.LocalObjectStore(DataSpoc.Pipe.Storage.BucketUri.Parse(lake.Bucket));
        var delta = new DeltaTable(store, TimeProvider.System);
        var live = (await delta.LiveFilesAsync("raw/test/ev/", await delta.LatestVersionAsync("raw/test/ev/", CancellationToken.None), CancellationToken.None)).Keys;
        var rows = live.SelectMany(p => lake.Query($"SELECT id, to_json(v)::VARCHAR, to_json(w)::VARCHAR FROM read_parquet('{TableDir(lake)}/{Uri.UnescapeDataString(p)}')"))
            .OrderBy(r => r[0], StringComparer.Ordinal).ToList();
        Assert.Equal([["1", """{"x":10}""", """[{"a":10}]"""], ["2", """{"x":2,"y":"y2"}""", """[{"a":2,"b":"b2"}]"""]], rows);
        // Every file holding v.y carries the schema's id for it.
        var yId = ids.V.Single(f => f.StartsWith("y:", StringComparison.Ordinal))[2..];
        Assert.Equal([yId], lake.Query("SELECT DISTINCT field_id::VARCHAR FROM parquet_schema('{lake}/raw/test/ev/*.parquet') WHERE name = 'y'").Select(r => r[0]));
    }

    private static readonly string WithDoubleAmount = SchemaOf("ev", ""","amount":{"type":["null","number"]}""");
    private static readonly string WithFineDecimalAmount = SchemaOf("ev", ""","amount":{"type":["null","number"],"multipleOf":1e-20}""");

    /// <summary>Each data file's Parquet type of column <paramref name="column"/> (DOUBLE, or the decimal's logical type).</summary>
    private static List<string?> FileTypesOf(TempLake lake, string column) =>
        [.. lake.Query($"SELECT DISTINCT coalesce(logical_type::VARCHAR, type) FROM parquet_schema('{TableDir(lake)}/**/ev_*.parquet') WHERE name = '{column}'").Select(r => r[0])];

    /// <summary>
    /// Before this build a decimal of scale 19 to 38 (<c>multipleOf: 1e-20</c>) landed as DOUBLE. A table that holds such a
    /// column as DOUBLE keeps landing it as DOUBLE on an append, the same way plain, Iceberg and Delta (no new field id
    /// hiding the earlier rows, no refused run, no file of another type), and the run log says so and that a full refresh
    /// gives DECIMAL(38,20); that full refresh does, for every format.
    /// </summary>
    [Theory]
    [InlineData(TableFormats.Parquet)]
    [InlineData(TableFormats.Iceberg)]
    [InlineData(TableFormats.Delta)]
    [InlineData(TableFormats.Iceberg | TableFormats.Delta)]
    public async Task A_column_the_table_holds_as_double_keeps_landing_as_double_when_its_schema_becomes_a_fine_decimal_until_a_full_refresh(TableFormats formats)
    {
        using var lake = new TempLake();
        // The table as the earlier builds left it: the column DOUBLE (here from a plain number; a 1e-20 landed so too).
        var first = await TempLake.RunAsync(Pipeline(lake, lake.WriteSinger("a", WithDoubleAmount,
            Record("""{"id":1,"amount":1.5}"""), Record("""{"id":2,"amount":0.12345678901234567890}""")), formats));
        Assert.True(first.Succeeded, first.Log.Error);
        var amountId = formats.HasFlag(TableFormats.Iceberg) ? IcebergColumns(lake).Single(c => c.Name == "amount").Id : 0;

        var second = await TempLake.RunAsync(Pipeline(lake, lake.WriteSinger("b", WithFineDecimalAmount,
            Record("""{"id":3,"amount":2.25}"""), Record("""{"id":4,"amount":0.12345678901234567891}""")), formats));
        Assert.True(second.Succeeded, second.Log.Error);

        string?[][] expected = [["1", "1.5"], ["2", "0.12345678901234568"], ["3", "2.25"], ["4", "0.12345678901234568"]];
        if (formats.HasFlag(TableFormats.Iceberg))
        {
            Assert.Equal(expected, IcebirdRows(lake, "amount").Select(r => r.ToArray()));
            Assert.Equal(amountId, IcebergColumns(lake).Single(c => c.Name == "amount").Id);
            // Readers project files by field id: every file's 'amount' carries the schema's.
            Assert.Equal([amountId.ToString()], lake.Query($"SELECT DISTINCT field_id::VARCHAR FROM parquet_schema('{TableDir(lake)}/**/ev_*.parquet') WHERE name = 'amount'").Select(r => r[0]));
        }
        Assert.Equal(["DOUBLE"], FileTypesOf(lake, "amount"));
        Assert.Equal(expected, lake.Query($"SELECT id, amount FROM read_parquet('{TableDir(lake)}/**/ev_*.parquet') ORDER BY id").Select(r => r.ToArray()));
        if (formats.HasFlag(TableFormats.Delta)) Assert.Equal(expected, (await DeltaRowsAsync(lake, "id, amount")).Select(r => r.ToArray()));
        Assert.Equal("double", lake.Manifest().Tables["test/ev"].Columns.Single(c => c.Name == "amount").Type);
        var notice = Assert.Single(second.Log.Notices, n => n.Contains("'amount'", StringComparison.Ordinal));
        Assert.Contains("DOUBLE", notice, StringComparison.Ordinal);
        Assert.Contains("DECIMAL(38,20)", notice, StringComparison.Ordinal);
        Assert.Contains("--full", notice, StringComparison.Ordinal);
        Assert.Contains("1 number(s)", notice, StringComparison.Ordinal);
        Assert.Contains("line 3", notice, StringComparison.Ordinal);

        // A full refresh rewrites the table with the schema's DECIMAL(38,20), every digit kept.
        var full = await TempLake.RunAsync(Pipeline(lake, lake.WriteSinger("c", WithFineDecimalAmount,
            Record("""{"id":5,"amount":0.12345678901234567891}""")), formats), full: true);
        Assert.True(full.Succeeded, full.Log.Error);
        Assert.DoesNotContain(full.Log.Notices, n => n.Contains("'amount'", StringComparison.Ordinal));
        Assert.Equal("decimal128(38, 20)", lake.Manifest().Tables["test/ev"].Columns.Single(c => c.Name == "amount").Type);
        string?[][] exact = [["5", "0.12345678901234567891"]];
        var fullFiles = $"{TableDir(lake)}/**/ev_*_{full.Log.RunId}.parquet";
        Assert.Equal(["DecimalType(scale=20, precision=38)"], lake.Query($"SELECT DISTINCT logical_type::VARCHAR FROM parquet_schema('{fullFiles}') WHERE name = 'amount'").Select(r => r[0]));
        Assert.Equal(exact, lake.Query($"SELECT id, amount::VARCHAR FROM read_parquet('{fullFiles}')").Select(r => r.ToArray()));
        // The plain table is the new files alone (the earlier ones deleted); the table formats list only them.
        if (formats == TableFormats.Parquet) Assert.Equal(exact, lake.Query($"SELECT id, amount::VARCHAR FROM read_parquet('{TableDir(lake)}/**/ev_*.parquet')").Select(r => r.ToArray()));
        if (formats.HasFlag(TableFormats.Delta)) Assert.Equal(exact, (await DeltaRowsAsync(lake, "id, amount::VARCHAR")).Select(r => r.ToArray()));
        if (formats.HasFlag(TableFormats.Iceberg))
        {
            Assert.Equal("decimal(38, 20)", IcebergField(lake, "amount")["type"]!.GetValue<string>());
            // icebird reads a decimal as a JavaScript number: the nearest double of the exact value.
            Assert.Equal([["5", "0.12345678901234568"]], IcebirdRows(lake, "amount").Select(r => r.ToArray()));
        }
    }

    private static readonly string WithCentsAmount = SchemaOf("ev", ""","amount":{"type":["null","number"],"multipleOf":0.01}""");

    private static PipelineDefinition Computing(TempLake lake, string input, TableFormats formats, string total) =>
        Pipeline(lake, input, formats) with { Transforms = new Dictionary<string, JsonNode?> { ["ev"] = new JsonObject { ["compute"] = new JsonObject { ["total"] = total } } } };

    /// <summary>
    /// Before decimals computed exactly, a computed column of a decimal (<c>amount * 2</c>) landed as DOUBLE; it is
    /// DECIMAL(38,2) now. A table that holds the computed column as DOUBLE keeps landing it as DOUBLE on an append, as
    /// for decimals of more than 18 places: plain files of one type, Iceberg's earlier rows not hidden behind a new field
    /// id, Delta's run not refused; the run log says so, and counts the value a double does not hold.
    /// </summary>
    [Theory]
    [InlineData(TableFormats.Parquet)]
    [InlineData(TableFormats.Iceberg)]
    [InlineData(TableFormats.Delta)]
    [InlineData(TableFormats.Iceberg | TableFormats.Delta)]
    public async Task A_computed_column_the_table_holds_as_double_keeps_landing_as_double_when_it_computes_a_decimal(TableFormats formats)
    {
        using var lake = new TempLake();
        // The table as an earlier build left it: 'total' DOUBLE (here from '/', which still gives a DOUBLE).
        var first = await TempLake.RunAsync(Computing(lake, lake.WriteSinger("a", WithCentsAmount,
            Record("""{"id":1,"amount":1.25}"""), Record("""{"id":2,"amount":0.10}""")), formats, "amount / 1"));
        Assert.True(first.Succeeded, first.Log.Error);
        Assert.Equal(["DOUBLE"], FileTypesOf(lake, "total"));
        var totalId = formats.HasFlag(TableFormats.Iceberg) ? IcebergColumns(lake).Single(c => c.Name == "total").Id : 0;

        var second = await TempLake.RunAsync(Computing(lake, lake.WriteSinger("b", WithCentsAmount,
            Record("""{"id":3,"amount":0.10}"""), Record("""{"id":4,"amount":1234567890123456.78}""")), formats, "amount * 2"));
        Assert.True(second.Succeeded, second.Log.Error);

        string?[][] expected = [["1", "1.25"], ["2", "0.1"], ["3", "0.2"], ["4", "2469135780246913.5"]];
        Assert.Equal(["DOUBLE"], FileTypesOf(lake, "total"));
        Assert.Equal(expected, lake.Query($"SELECT id, total FROM read_parquet('{TableDir(lake)}/**/ev_*.parquet') ORDER BY id").Select(r => r.ToArray()));
        if (formats.HasFlag(TableFormats.Iceberg))
        {
            Assert.Equal(expected, IcebirdRows(lake, "total").Select(r => r.ToArray()));
            Assert.Equal(totalId, IcebergColumns(lake).Single(c => c.Name == "total").Id);
        }
        if (formats.HasFlag(TableFormats.Delta)) Assert.Equal(expected, (await DeltaRowsAsync(lake, "id, total")).Select(r => r.ToArray()));
        Assert.Equal("double", lake.Manifest().Tables["test/ev"].Columns.Single(c => c.Name == "total").Type);
        var notice = Assert.Single(second.Log.Notices, n => n.Contains("'total'", StringComparison.Ordinal));
        Assert.Contains("DECIMAL(38,2)", notice, StringComparison.Ordinal);
        Assert.Contains("computed decimal", notice, StringComparison.Ordinal);
        Assert.Contains("--full", notice, StringComparison.Ordinal);
        Assert.Contains("1 number(s)", notice, StringComparison.Ordinal);

        // A full refresh lands the DECIMAL(38,2), exact.
        var full = await TempLake.RunAsync(Computing(lake, lake.WriteSinger("c", WithCentsAmount, Record("""{"id":5,"amount":0.10}""")), formats, "amount * 3"), full: true);
        Assert.True(full.Succeeded, full.Log.Error);
        Assert.Equal("decimal128(38, 2)", lake.Manifest().Tables["test/ev"].Columns.Single(c => c.Name == "total").Type);
        Assert.DoesNotContain(full.Log.Notices, n => n.Contains("'total'", StringComparison.Ordinal));
    }

    /// <summary>As a top-level column, so a struct's field and a list's element the table holds as DOUBLE (the whole column as before).</summary>
    [Fact]
    public async Task A_struct_field_and_a_list_element_the_table_holds_as_double_keep_landing_as_double_when_they_become_fine_decimals()
    {
        using var lake = new TempLake();
        const TableFormats formats = TableFormats.Iceberg | TableFormats.Delta;
        static string Nested(string step) => SchemaOf("ev", ""","v":{"type":["null","object"],"properties":{"x":{"type":["null","number"]""" + step +
            "}}},\"w\":{\"type\":[\"null\",\"array\"],\"items\":{\"type\":\"number\"" + step + "}}");
        Assert.True((await TempLake.RunAsync(Pipeline(lake, lake.WriteSinger("a", Nested(""), Record("""{"id":1,"v":{"x":1.5},"w":[0.25]}""")), formats))).Succeeded);
        var ids = IcebergNestedIds();
        var second = await TempLake.RunAsync(Pipeline(lake, lake.WriteSinger("b", Nested(",\"multipleOf\":1e-20"),
            Record("""{"id":2,"v":{"x":0.12345678901234567891},"w":[2.5]}""")), formats));
        Assert.True(second.Succeeded, second.Log.Error);

        Assert.Equal(ids, IcebergNestedIds());
        Assert.Equal([["1", "1.5", "[0.25]"], ["2", "0.12345678901234568", "[2.5]"]], await DeltaRowsAsync(lake, "id, v.x, w::VARCHAR"));
        Assert.Equal(["DOUBLE"], lake.Query($"SELECT DISTINCT type FROM parquet_schema('{TableDir(lake)}/**/ev_*.parquet') WHERE name IN ('x', 'element')").Select(r => r[0]));
        Assert.Contains(second.Log.Notices, n => n.Contains("column 'v.x': the column is a decimal of 20 places", StringComparison.Ordinal) && n.Contains("1 number(s)", StringComparison.Ordinal));
        Assert.Contains(second.Log.Notices, n => n.Contains("column 'w[]': the column is a decimal of 20 places", StringComparison.Ordinal));

        string IcebergNestedIds() => IcebergField(lake, "v").ToJsonString() + IcebergField(lake, "w").ToJsonString();
    }
}

using DataSpoc.Pipe.Tables;

namespace DataSpoc.Pipe.Tests.Tables;

public class TableMaintenanceResultTests
{
    [Fact]
    public void TheJsonEveryFrontEndPrintsNamesEachFigure()
    {
        var json = new TableMaintenanceResult("shop/orders", 3, 2, ["raw/shop/orders/a.parquet"], CompactedFiles: 9, WrittenFiles: 1).ToJson();
        Assert.Equal("""{"table":"shop/orders","expired_snapshots":3,"kept_snapshots":2,"deleted_files":["raw/shop/orders/a.parquet"],"compacted_files":9,"written_files":1}""",
            json.ToJsonString());
    }
}

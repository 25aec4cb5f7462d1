using DataSpoc.Pipe.Tables;

namespace DataSpoc.Pipe.Tests.Tables;

public class TableMaintenanceResultTests
{
    [Fact]
    public void TheJsonEveryFrontEndPrintsNamesEachFigure()
    {
        var json = new TableMaintenanceResult("shop/orders", 3, 2, ["raw/shop/orders/a.parquet"], CompactedFiles: 9, WrittenFiles: 1, DeletedLogFiles: 20).ToJson();
        Assert.Equal("""{"table":"shop/orders","expired_snapshots":3,"kept_snapshots":2,"deleted_files":["raw/shop/orders/a.parquet"],"compacted_files":9,"written_files":1,"deleted_log_files":20}""",
            json.ToJsonString());
    }

    [Fact]
    public void The_json_of_a_whole_maintain_holds_its_tables_and_its_notices()
    {
        var json = new PipelineMaintenance([new TableMaintenanceResult("shop/orders", 0, 1, [])], ["completed the interrupted commit of run r1 (all 1 files had landed)"]).ToJson();
        Assert.Equal("""{"tables":[{"table":"shop/orders","expired_snapshots":0,"kept_snapshots":1,"deleted_files":[],"compacted_files":0,"written_files":0,"deleted_log_files":0}],"notices":["completed the interrupted commit of run r1 (all 1 files had landed)"]}""",
            json.ToJsonString());
    }
}

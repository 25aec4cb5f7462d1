using DataSpoc.Pipe.Lake;

namespace DataSpoc.Pipe.Tests.Lake;

public class LakeTempNameTests
{
    [Fact]
    public void ATempNameIsRecognisedAsTheTempOfItsKeyOnly()
    {
        var key = "raw/shop/orders/dt=2024-01-01/orders_0001_abc.parquet";
        var temp = LakePaths.TempNameOf(key);
        Assert.True(LakePaths.IsTempOf(temp, key));
        Assert.True(LakePaths.IsDataTempKey(temp));
        Assert.True(LakePaths.IsTempName(Path.GetFileName(temp)));
        Assert.False(LakePaths.IsTempOf(temp, key.Replace("0001", "0002")));
        Assert.False(LakePaths.IsTempOf(key, key));
        Assert.False(LakePaths.IsTempOf(key + ".tmp", key));
        Assert.NotEqual(temp, LakePaths.TempNameOf(key));
    }

    [Fact]
    public void ATempNameIsHiddenInItsKeysFolderAndAnEarlierBuildsSuffixFormIsStillRecognised()
    {
        var key = "raw/shop/orders/orders_0001_abc.parquet";
        // Spark, Hive, Trino and pyarrow skip names starting with '.' or '_' when they list a table's folder.
        Assert.Matches(@"^raw/shop/orders/\.orders_0001_abc\.parquet\.tmp-[0-9a-f]{12}$", LakePaths.TempNameOf(key));
        var earlier = key + ".tmp-0123456789ab";
        Assert.True(LakePaths.IsTempOf(earlier, key));
        Assert.True(LakePaths.IsDataTempKey(earlier));
        Assert.True(LakePaths.IsTempName(Path.GetFileName(earlier)));
        Assert.True(LakePaths.IsTempOf("raw/shop/orders/.orders_0001_abc.parquet.tmp-0123456789ab", key));
        Assert.False(LakePaths.IsTempOf("raw/shop/.orders/orders_0001_abc.parquet.tmp-0123456789ab", key));
        // A data file of a table whose name holds the marker is no temp file (maintain deletes abandoned temp files).
        Assert.False(LakePaths.IsTempName("x.tmp-0123456789ab_0000_abc.parquet"));
        Assert.False(LakePaths.IsTempName("orders.parquet.tmp-01234"));
    }

    [Fact]
    public void LocalTempFoldersDifferByBucketAndKind()
    {
        var a = LakePaths.LocalTempFolder("/r", "spool", "file:///a/", "p");
        Assert.NotEqual(a, LakePaths.LocalTempFolder("/r", "spool", "file:///b/", "p"));
        Assert.NotEqual(a, LakePaths.LocalTempFolder("/r", "private", "file:///a/", "p"));
        Assert.Equal(a, LakePaths.LocalTempFolder("/r", "spool", "file:///a/", "p"));
        Assert.StartsWith("/r/spool/p-", a);
    }
}

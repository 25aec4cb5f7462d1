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
    public void LocalTempFoldersDifferByBucketAndKind()
    {
        var a = LakePaths.LocalTempFolder("/r", "spool", "file:///a/", "p");
        Assert.NotEqual(a, LakePaths.LocalTempFolder("/r", "spool", "file:///b/", "p"));
        Assert.NotEqual(a, LakePaths.LocalTempFolder("/r", "private", "file:///a/", "p"));
        Assert.Equal(a, LakePaths.LocalTempFolder("/r", "spool", "file:///a/", "p"));
        Assert.StartsWith("/r/spool/p-", a);
    }
}

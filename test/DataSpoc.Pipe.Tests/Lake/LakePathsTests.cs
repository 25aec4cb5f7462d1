using DataSpoc.Pipe.Lake;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tests.Lake;

public class LakePathsTests
{
    [Theory]
    [InlineData("tap-postgres", "postgres")]
    [InlineData("/opt/x/tap-csv", "csv")]
    [InlineData("csv", "csv")]
    [InlineData("tap-foo", "foo")]
    [InlineData("/abs/tap-foo", "foo")]
    [InlineData("python3 my_tap.py", "my_tap")]
    [InlineData("python3 /opt/taps/tap-github.py --verbose", "github")]
    [InlineData("tap-s3-csv.exe", "s3-csv")]
    public void Source_name_is_the_executable_without_directory_extension_and_tap_prefix(string tap, string expected) =>
        Assert.Equal(expected, LakePaths.SourceName(tap));

    [Theory]
    [InlineData("orders", "orders")]
    [InlineData("public-orders", "public-orders")]
    [InlineData("../../x", ".._.._x")]
    [InlineData("a/b\\c d\te", "a_b_c_d_e")]
    public void Stream_names_become_safe_single_folder_names(string stream, string expected) =>
        Assert.Equal(expected, LakePaths.TableName(stream));

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("...")]
    public void Stream_names_that_are_empty_or_only_dots_are_rejected(string stream) =>
        Assert.Throws<ArgumentException>(() => LakePaths.TableName(stream));

    [Fact]
    public void Keys_follow_the_contract()
    {
        Assert.Equal("raw/postgres/orders/", LakePaths.TablePrefix(LakePaths.BasePath("/raw/"), "postgres", "orders"));
        Assert.Equal("postgres/orders/", LakePaths.TablePrefix(LakePaths.BasePath(""), "postgres", "orders"));
        Assert.Equal("dt=2025-01-20", LakePaths.PartitionFolder(new DateOnly(2025, 1, 20)));
        Assert.Equal("dt=__HIVE_DEFAULT_PARTITION__", LakePaths.PartitionFolder(null));
        Assert.Equal("orders_0007_1a2b3c4d.parquet", LakePaths.DataFileName("orders", 7, "1a2b3c4d"));
        // Names a folder reader would take as hidden get "part" before them; an earlier build's bare name still counts.
        Assert.Equal("part_sdc_rejected_0007_1a2b3c4d.parquet", LakePaths.DataFileName("_sdc_rejected", 7, "1a2b3c4d"));
        Assert.Equal("part.hid_0000_1a2b3c4d.parquet", LakePaths.DataFileName(".hid", 0, "1a2b3c4d"));
        Assert.Equal(7, LakePaths.DataFileIndex("_sdc_rejected", "part_sdc_rejected_0007_1a2b3c4d.parquet"));
        Assert.Equal(6, LakePaths.DataFileIndex("_sdc_rejected", "_sdc_rejected_0006_1a2b3c4d.parquet"));
        Assert.Equal("1a2b3c4d", LakePaths.DataFileRunId("_sdc_rejected", "_sdc_rejected_0006_1a2b3c4d.parquet"));
        Assert.Equal(-1, LakePaths.DataFileIndex("sdc_rejected", "part_sdc_rejected_0007_1a2b3c4d.parquet"));
        Assert.Equal(7, LakePaths.DataFileIndex("orders", "orders_0007_1a2b3c4d.parquet"));
        Assert.Equal(12345, LakePaths.DataFileIndex("orders", "orders_12345.parquet"));
        Assert.Equal(-1, LakePaths.DataFileIndex("orders", "orders_0007_.parquet"));
        Assert.Equal(-1, LakePaths.DataFileIndex("orders", "orders_0007_a.b.parquet"));
        Assert.Equal(-1, LakePaths.DataFileIndex("orders", "orders_x7_1a2b3c4d.parquet"));
        Assert.Equal(-1, LakePaths.DataFileIndex("orders", "orders_0001.parquet.tmp-abc"));
        Assert.Equal(".dataspoc/logs/p/2025-01-20T10-05-12Z_ab12cd34.json",
            LakePaths.LogKey("p", new DateTimeOffset(2025, 1, 20, 10, 5, 12, TimeSpan.Zero), "ab12cd34"));
        Assert.Equal(".dataspoc/state/p/state.json", LakePaths.StateKey("p"));
        Assert.Equal(".dataspoc/locks/p.lock", LakePaths.LockKey("p"));
    }

    [Theory]
    [InlineData("s3://bucket", "s3", "bucket", "")]
    [InlineData("s3://bucket/some/prefix/", "s3", "bucket", "some/prefix")]
    [InlineData("gcs://bkt", "gs", "bkt", "")]
    [InlineData("abfss://container@acct.dfs.core.windows.net/p", "az", "container", "p")]
    [InlineData("az://box", "az", "box", "")]
    public void Bucket_uris_parse_with_aliases_and_prefixes(string uri, string scheme, string bucket, string prefix)
    {
        var parsed = BucketUri.Parse(uri);
        Assert.Equal((scheme, bucket, prefix), (parsed.Scheme, parsed.Bucket, parsed.Prefix));
    }

    [Theory]
    [InlineData("/tmp/x")]
    [InlineData("ftp://x")]
    [InlineData("file://relative/dir")]
    public void Bad_bucket_uris_are_refused_with_the_reason(string uri) =>
        Assert.Throws<FormatException>(() => BucketUri.Parse(uri));
}

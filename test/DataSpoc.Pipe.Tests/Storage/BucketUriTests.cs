using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Tests.Storage;

/// <summary>Which manifest locations count as inside a bucket: the only ones the dashboard and maintenance follow.</summary>
public sealed class BucketUriTests
{
    [Theory]
    [InlineData("file:///data/lake", "file:///data/lake/raw/src/items", "raw/src/items/")]
    [InlineData("s3://lake/team", "s3://lake/team/raw/src/items", "raw/src/items/")]
    [InlineData("file:///data/lake", "file:///other/dir/raw/src/items", null)]
    [InlineData("file:///data/lake", "file:///data/lake-copy/raw/src/items", null)]
    [InlineData("file:///data/lake", "file:///data/lake/../other/raw/src/items", null)]
    [InlineData("file:///data/lake", "file:///data/lake/raw/./src/items", null)]
    [InlineData("file:///data/lake", "file:///data/lake//raw/src/items", null)]
    [InlineData("file:///data/lake", "file:///data/lake/", null)]
    [InlineData("s3://lake/team", "s3://lake/other-team/raw/src/items", null)]
    [InlineData("s3://lake/team", "gs://lake/team/raw/src/items", null)]
    public void A_location_is_inside_the_bucket_only_under_its_prefix_and_without_dot_segments(string bucket, string location, string? prefix) =>
        Assert.Equal(prefix, BucketUri.Parse(bucket).KeyPrefixOf(location));
}

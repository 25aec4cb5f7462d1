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

    [Theory]
    [InlineData("az://lakeh/../victim")]
    [InlineData("s3://lakep/../lake")]
    [InlineData("s3://lake/team/./raw")]
    [InlineData("s3://lake/team//raw")]
    [InlineData("gs://lake/a/..")]
    [InlineData("s3://../lake")]
    [InlineData("abfss://..@account.dfs.core.windows.net/victim")]
    public void A_cloud_bucket_or_prefix_with_empty_or_dot_segments_is_refused(string bucket)
    {
        var refused = Assert.Throws<FormatException>(() => BucketUri.Parse(bucket));
        Assert.Equal($"bucket '{bucket}' must not contain empty, '.' or '..' segments in its bucket name or prefix", refused.Message);
    }

    [Theory]
    [InlineData("s3://lake/team/", "s3://lake/team")]
    [InlineData("az://lake//team", "az://lake/team")]
    [InlineData("s3://lake/..team/x..", "s3://lake/..team/x..")]
    [InlineData("file:///data/lake/../other", "file:///data/other")]
    [InlineData("file:///data//lake/./x", "file:///data/lake/x")]
    public void Outer_slashes_of_a_prefix_are_trimmed_and_a_local_path_is_resolved_as_the_system_does(string bucket, string canonical) =>
        Assert.Equal(canonical, BucketUri.Parse(bucket).Canonical);
}

using DataSpoc.Pipe.Storage;
using DataSpoc.Pipe.Tests.Support;

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
    [InlineData("az://Lake", "Azure container names are 3-63 lowercase letters, digits and '-', starting with a letter or digit, without '--' or a trailing '-'; 'Lake' has the capital letter 'L'")]
    [InlineData("abfss://Lake@account.dfs.core.windows.net/p", "Azure container names are 3-63 lowercase letters, digits and '-', starting with a letter or digit, without '--' or a trailing '-'; 'Lake' has the capital letter 'L'")]
    [InlineData("az://my--lake", "Azure container names are 3-63 lowercase letters, digits and '-', starting with a letter or digit, without '--' or a trailing '-'; 'my--lake' has '--'")]
    [InlineData("az://my.lake", "Azure container names are 3-63 lowercase letters, digits and '-', starting with a letter or digit, without '--' or a trailing '-'; 'my.lake' has '.'")]
    [InlineData("gs://Lake/raw", "GCS bucket names are 3-63 lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or digit; 'Lake' has the capital letter 'L'")]
    [InlineData("gcs://lake-", "GCS bucket names are 3-63 lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or digit; 'lake-' starts or ends with '-'")]
    [InlineData("s3://LAKE", "S3 bucket names are 3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit; 'LAKE' has the capital letter 'L'")]
    [InlineData("s3://la_ke", "S3 bucket names are 3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit; 'la_ke' has '_'")]
    [InlineData("s3://lk", "S3 bucket names are 3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit; 'lk' has 2 characters")]
    public void A_cloud_bucket_name_that_breaks_its_providers_naming_rule_is_refused_naming_the_rule(string bucket, string rule)
    {
        var refused = Assert.Throws<FormatException>(() => BucketUri.Parse(bucket));
        Assert.Equal($"bucket '{bucket}': {rule}", refused.Message);
    }

    [Theory]
    [InlineData("s3://lake")]
    [InlineData("s3://my-company.data-lake-2")]
    [InlineData("gs://lake_raw")]
    [InlineData("gs://data.example.com")]
    [InlineData("az://lake-01")]
    [InlineData("az://$web/site")]
    [InlineData("abfss://container@acct.dfs.core.windows.net/p")]
    public void Names_that_follow_the_providers_rules_parse(string bucket) => BucketUri.Parse(bucket);

    [Theory]
    [InlineData("s3://lake/team/", "s3://lake/team")]
    [InlineData("az://lake//team", "az://lake/team")]
    [InlineData("s3://lake/..team/x..", "s3://lake/..team/x..")]
    [InlineData("file:///data/lake/../other", "file:///data/other")]
    [InlineData("file:///data//lake/./x", "file:///data/lake/x")]
    public void Outer_slashes_of_a_prefix_are_trimmed_and_a_local_path_is_resolved_as_the_system_does(string bucket, string canonical) =>
        Assert.Equal(canonical, BucketUri.Parse(bucket).Canonical);

    [Fact]
    public void A_local_path_with_dot_dot_after_a_symbolic_link_is_resolved_through_the_link_as_the_system_does()
    {
        var root = Directory.CreateTempSubdirectory("dsp-bucket-link-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "real", "sub"));
            File.CreateSymbolicLink(Path.Combine(root, "link"), "real/sub");
            // The system's own resolution (.NET would normalise the path lexically before the call): mkdir through the URI's path.
            HostCommand.Run("mkdir", "-p", root + "/link/../x");

            var bucket = BucketUri.Parse("file://" + root + "/link/../x");

            Assert.Equal("file://" + root + "/real/x", bucket.Canonical);
            Assert.True(Directory.Exists(bucket.LocalPath));
            Assert.False(Directory.Exists(Path.Combine(root, "x")));
            // Without '..' a link stays in the path: existing lakes' manifest locations name it so.
            Assert.Equal("file://" + root + "/link/y", BucketUri.Parse("file://" + root + "/link/./y").Canonical);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void A_local_path_with_dot_dot_keeps_the_links_the_system_need_not_follow_so_both_spellings_name_one_bucket()
    {
        var root = Directory.CreateTempSubdirectory("dsp-bucket-link-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "real", "sub"));
            Directory.CreateDirectory(Path.Combine(root, "data", "x"));
            File.CreateSymbolicLink(Path.Combine(root, "data", "lake"), root + "/real/sub");
            // A link into the same folder: going up from it reaches 'data' as going up from its name does.
            File.CreateSymbolicLink(Path.Combine(root, "data", "y"), "x");
            var plain = BucketUri.Parse("file://" + root + "/data/lake").Canonical;

            Assert.Equal("file://" + root + "/data/lake", plain);
            Assert.Equal(plain, BucketUri.Parse("file://" + root + "/data/x/../lake").Canonical);
            Assert.Equal(plain, BucketUri.Parse("file://" + root + "/data/y/../lake/").Canonical);
            Assert.Equal(plain, BucketUri.Parse("file://" + root + "/data/new/../x/../lake").Canonical);
            // Links before a '..' that leads elsewhere are followed; those after the last '..' are kept.
            Assert.Equal("file://" + root + "/real/lake", BucketUri.Parse("file://" + root + "/data/lake/../lake").Canonical);
            Assert.Equal(plain + "/z", BucketUri.Parse("file://" + root + "/data/lake/../../data/lake/z").Canonical);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void A_dot_dot_after_a_link_loop_a_dangling_link_or_a_file_is_refused_naming_the_bucket_and_the_segment()
    {
        var root = Directory.CreateTempSubdirectory("dsp-bucket-link-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "a"));
            File.WriteAllText(Path.Combine(root, "a", "file"), "x");
            File.CreateSymbolicLink(Path.Combine(root, "loop"), "loop");
            File.CreateSymbolicLink(Path.Combine(root, "dang"), root + "/nonexist/deep");
            File.CreateSymbolicLink(Path.Combine(root, "tofile"), "a/file");

            foreach (var (segment, why) in new[]
            {
                ("loop", "a loop of symbolic links"), ("dang", "which does not exist"), ("tofile", "which is a file, not a folder"),
            })
            {
                var uri = "file://" + root + "/" + segment + "/../x";
                var error = Assert.Throws<FormatException>(() => BucketUri.Parse(uri));
                Assert.Contains($"bucket '{uri}'", error.Message);
                Assert.Contains($"'{root}/{segment}' is a symbolic link", error.Message);
                Assert.Contains(why, error.Message);
            }
            var onFile = Assert.Throws<FormatException>(() => BucketUri.Parse("file://" + root + "/a/file/../y"));
            Assert.Contains($"'{root}/a/file' is a file", onFile.Message);
            Assert.False(Directory.Exists(Path.Combine(root, "nonexist")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}

using DataSpoc.Pipe.Cloud.Tests.Servers;

namespace DataSpoc.Pipe.Cloud.Tests;

public sealed class TestToolsTests
{
    [Fact]
    public void A_missing_test_server_fails_with_a_message_to_run_ci_setup()
    {
        var error = Assert.Throws<InvalidOperationException>(() => TestTools.NodeBinary("no-such-test-server"));
        Assert.Contains("run .ci/setup", error.Message);
        Assert.Contains(Path.Combine(".ci", ".tools", "node_modules", ".bin", "no-such-test-server"), error.Message);
    }

    [Fact]
    public void The_installed_test_servers_are_found()
    {
        Assert.True(File.Exists(TestTools.NodeBinary("azurite-blob")));
        Assert.True(File.Exists(TestTools.NodeBinary("s3rver")));
    }
}

using Xunit.Abstractions;
using DataSpoc.Pipe.Kubernetes;
using DataSpoc.Pipe.Tests.Support;
using k8s.Models;

namespace DataSpoc.Pipe.Tests.Kubernetes;

public sealed class ManifestYamlTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("true")]
    [InlineData("No")]
    [InlineData("0755")]
    [InlineData("1e3")]
    [InlineData("~")]
    [InlineData("")]
    [InlineData("a: b")]
    [InlineData("- item")]
    [InlineData("#not a comment")]
    [InlineData("  leading\nspaces\n")]
    [InlineData("line\r\nwith crlf\n")]
    [InlineData("two trailing breaks\n\n")]
    [InlineData("no trailing break\nat end")]
    [InlineData("\nstarts with a break")]
    [InlineData("tab\tand \"quotes\" and \\ backslash")]
    [InlineData("${VAR} and $${LITERAL}")]
    public void Text_that_looks_like_another_YAML_type_or_needs_escaping_reads_back_unchanged(string text) =>
        Assert.Equal(text, RoundTrip(text));

    [Fact]
    public void Random_text_reads_back_unchanged_through_the_Kubernetes_models()
    {
        var seed = FuzzSeed.FromEnvironment();
        output.WriteLine($"seed {seed} (replay with DATASPOC_FUZZ_SEED={seed})");
        var random = new Random(seed);
        const string alphabet = "abcXYZ019 :-#&*!|>'\"%@`,[]{}?\\/\t\n\r.~=éΩ🙂";
        for (var i = 0; i < 300; i++)
        {
            var length = random.Next(0, 40);
            var chars = new List<string>();
            var elements = System.Globalization.StringInfo.GetTextElementEnumerator(alphabet);
            var pool = new List<string>();
            while (elements.MoveNext()) pool.Add((string)elements.Current);
            for (var j = 0; j < length; j++) chars.Add(pool[random.Next(pool.Count)]);
            var text = string.Concat(chars);
            Assert.True(text == RoundTrip(text), $"seed {seed}, case {i}: {System.Text.Json.JsonSerializer.Serialize(text)} did not read back");
        }
    }

    private static string RoundTrip(string text)
    {
        var doc = new ManifestMap
        {
            ["apiVersion"] = "v1",
            ["kind"] = "ConfigMap",
            ["metadata"] = new ManifestMap { ["name"] = "t", ["labels"] = new ManifestMap { ["k"] = "v" } },
            ["data"] = new ManifestMap { ["value"] = text, ["after"] = "sentinel" },
        };
        var map = Assert.IsType<V1ConfigMap>(Assert.Single(KubernetesObjects.LoadStrict(ManifestYaml.Write([doc, doc]))[..1]));
        Assert.Equal("sentinel", map.Data["after"]);
        return map.Data["value"];
    }
}

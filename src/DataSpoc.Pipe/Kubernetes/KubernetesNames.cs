using System.IO.Hashing;
using System.Text;

namespace DataSpoc.Pipe.Kubernetes;

/// <summary>
/// Object names from pipeline names. Kubernetes wants a DNS-1123 label (lowercase letters, digits and '-', starting and
/// ending with a letter or digit); a CronJob's name at most 52 characters (its Jobs add a suffix). A pipeline name that
/// needs changing to fit gets a short hash of the original, so <c>orders_eu</c> and <c>orders-eu</c> never collide.
/// </summary>
public static class KubernetesNames
{
    public const string Prefix = "pipe-";
    public const int CronJobMaxLength = 52;

    /// <summary>The name of the pipeline's ConfigMap, CronJob and Job (the ad-hoc Job adds <c>-run</c>).</summary>
    public static string ForPipeline(string pipeline)
    {
        var sb = new StringBuilder(Prefix);
        foreach (var c in pipeline.ToLowerInvariant())
            sb.Append(char.IsAsciiLetterOrDigit(c) ? c : '-');
        var name = sb.ToString().Trim('-');
        while (name.Contains("--", StringComparison.Ordinal)) name = name.Replace("--", "-", StringComparison.Ordinal);
        var exact = name == Prefix + pipeline;
        // Room for "-run" on the ad-hoc Job and for the hash suffix.
        const int max = CronJobMaxLength - 4;
        if (exact && name.Length <= max) return name;
        var hash = Convert.ToHexStringLower(XxHash32.Hash(Encoding.UTF8.GetBytes(pipeline)))[..6];
        var stem = name.Length > max - 7 ? name[..(max - 7)].TrimEnd('-') : name;
        return stem + "-" + hash;
    }
}

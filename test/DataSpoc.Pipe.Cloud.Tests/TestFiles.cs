using System.Security.Cryptography;

namespace DataSpoc.Pipe.Cloud.Tests;

/// <summary>Pseudo-random test files written in 1 MB blocks, with their SHA-256 computed on the way.</summary>
public static class TestFiles
{
    public static (string Path, string Sha256) Random(long bytes, int seed = 1)
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "upload-" + Guid.NewGuid().ToString("N") + ".bin");
        var rng = new Random(seed);
        var block = new byte[1 << 20];
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
        {
            for (long written = 0; written < bytes;)
            {
                rng.NextBytes(block);
                var n = (int)Math.Min(block.Length, bytes - written);
                file.Write(block, 0, n);
                hash.AppendData(block, 0, n);
                written += n;
            }
        }
        return (path, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    public static async Task<string> Sha256Async(Stream stream)
    {
        await using (stream)
            return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream));
    }

    /// <summary>
    /// A service-account key file for <paramref name="email"/> holding <paramref name="key"/>, the kind
    /// <c>GOOGLE_APPLICATION_CREDENTIALS</c> names. The client signs its own JWTs with it; the token endpoint
    /// (unreachable) is never asked.
    /// </summary>
    public static void GcsServiceAccountKey(string path, RSA key, string email) =>
        File.WriteAllText(path, new System.Text.Json.Nodes.JsonObject
        {
            ["type"] = "service_account",
            ["project_id"] = "project",
            ["private_key_id"] = "key-1",
            ["private_key"] = key.ExportPkcs8PrivateKeyPem(),
            ["client_email"] = email,
            ["client_id"] = "1",
            ["token_uri"] = "http://127.0.0.1:9/token",
        }.ToJsonString());

    public static void Delete(string path)
    {
        try { File.Delete(path); } catch (IOException) { }
    }
}

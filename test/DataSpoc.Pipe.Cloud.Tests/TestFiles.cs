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

    public static void Delete(string path)
    {
        try { File.Delete(path); } catch (IOException) { }
    }
}

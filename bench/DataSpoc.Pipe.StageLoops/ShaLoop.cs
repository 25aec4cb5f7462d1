using System.Diagnostics;
using System.Security.Cryptography;
using DataSpoc.Pipe.Transforms;

namespace DataSpoc.Pipe.StageLoops;

/// <summary>
/// `sha [rounds=3]`: the SHA-256 of 1M values of 10-40 bytes (a <c>hash:</c> column's usual values), one context per
/// loop as a parsing lane holds it: the lane's <see cref="ShortValueSha256"/> (libcrypto's low-level functions on Linux)
/// against .NET's <see cref="IncrementalHash"/> reset after each value and the one-shot <see cref="SHA256.HashData(ReadOnlySpan{byte}, Span{byte})"/>.
/// </summary>
internal static class ShaLoop
{
    public static int Run(int rounds)
    {
        var random = new Random(1);
        var values = new byte[1_000_000][];
        for (var i = 0; i < values.Length; i++) random.NextBytes(values[i] = new byte[10 + random.Next(31)]);
        var lane = new ShortValueSha256();
        using var incremental = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        Console.WriteLine($"ShortValueSha256 native: {ShortValueSha256.IsNative}");
        for (var round = 0; round < rounds; round++)
        {
            var clock = Stopwatch.StartNew();
            foreach (var v in values) lane.Hash([], v, hash);
            var ours = clock.Elapsed.TotalMilliseconds;
            clock.Restart();
            foreach (var v in values)
            {
                incremental.AppendData(v);
                incremental.GetHashAndReset(hash);
            }
            var reset = clock.Elapsed.TotalMilliseconds;
            clock.Restart();
            foreach (var v in values) SHA256.HashData(v, hash);
            var oneShot = clock.Elapsed.TotalMilliseconds;
            Console.WriteLine($"round {round}: ShortValueSha256 {ours:F0} ms, IncrementalHash {reset:F0} ms, SHA256.HashData {oneShot:F0} ms");
        }
        return 0;
    }
}

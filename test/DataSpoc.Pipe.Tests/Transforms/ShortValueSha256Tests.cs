using System.Security.Cryptography;
using DataSpoc.Pipe.Tests.Support;
using DataSpoc.Pipe.Transforms;

namespace DataSpoc.Pipe.Tests.Transforms;

/// <summary>
/// The lane's SHA-256 for <c>hash:</c> (<see cref="ShortValueSha256"/>, libcrypto's low-level functions on Linux) gives
/// .NET's SHA-256 of the salt and the value, for values of every length around the block boundaries, one context reused.
/// </summary>
public class ShortValueSha256Tests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void Gives_the_sha256_of_the_salt_and_the_value()
    {
        var seed = FuzzSeed.FromEnvironment();
        output.WriteLine($"seed {seed} (replay with DATASPOC_FUZZ_SEED={seed}); native: {ShortValueSha256.IsNative}");
        var random = new Random(seed);
        var sha = new ShortValueSha256();
        Span<byte> ours = stackalloc byte[SHA256.HashSizeInBytes];
        for (var n = 0; n < 5000; n++)
        {
            var salt = new byte[random.Next(3) == 0 ? 0 : random.Next(1, 40)];
            var value = new byte[random.Next(0, 200)];
            random.NextBytes(salt);
            random.NextBytes(value);
            sha.Hash(salt, value, ours);
            var expected = SHA256.HashData([.. salt, .. value]);
            Assert.True(ours.SequenceEqual(expected), $"seed {seed}: salt of {salt.Length} bytes, value of {value.Length} bytes: {Convert.ToHexString(ours)} != {Convert.ToHexString(expected)}");
        }
    }

    [Fact]
    public void Uses_libcrypto_directly_on_linux()
    {
        // The fast path is what the typed bench measures; should a libcrypto lack the functions the fallback is correct
        // but slow, and this says so.
        if (OperatingSystem.IsLinux()) Assert.True(ShortValueSha256.IsNative, "libcrypto's SHA256_Init/Update/Final were not found or gave wrong hashes");
    }
}

using System.Security.Cryptography;
using DataSpoc.Pipe.Tests.Support;
using DataSpoc.Pipe.Transforms;

namespace DataSpoc.Pipe.Tests.Transforms;

/// <summary>
/// <c>hash:</c> digests remembered per thread (<see cref="Sha256HexMemo"/>) are always the SHA-256 of the salt and the
/// value: for repeated values (found in the memo), values that share a slot, values too long to remember, a run of
/// distinct values (the memo set aside, then taken up again) and a salt that changes on the same thread.
/// </summary>
public class Sha256HexMemoTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void Every_digest_is_the_sha256_of_the_salt_and_the_value_whether_remembered_or_not()
    {
        var seed = FuzzSeed.FromEnvironment();
        output.WriteLine($"seed {seed} (replay with DATASPOC_FUZZ_SEED={seed})");
        var random = new Random(seed);
        Sha256HexMemo? memo = null;
        var hex = new byte[Sha256HexMemo.HexBytes];
        // Phases: a few repeated values, a pool larger than the memo (values evict each other), distinct values (the
        // memo is set aside), the repeated values again, values longer than the memo keeps; salts change in between.
        byte[][] Pool(int size, int maxLength) => [.. Enumerable.Range(0, size).Select(_ => { var v = new byte[random.Next(0, maxLength + 1)]; random.NextBytes(v); return v; })];
        var small = Pool(50, 48);
        var large = Pool(20_000, 48);
        var longValues = Pool(100, 300);
        var checkedValues = 0;
        foreach (var salt in (byte[][])[[], "pepper"u8.ToArray(), "pepper"u8.ToArray(), "salt"u8.ToArray()])
        {
            var m = Sha256HexMemo.For(ref memo, salt);
            foreach (var (pool, count, distinct) in ((byte[][], int, bool)[])[(small, 20_000, false), (large, 30_000, false), (small, 0, true), (small, 20_000, false), (longValues, 2_000, false)])
            {
                for (var i = 0; i < (distinct ? 70_000 : count); i++)
                {
                    var value = distinct ? BitConverter.GetBytes(random.NextInt64()) : pool[random.Next(pool.Length)];
                    m.WriteHex(value, hex);
                    var expected = Convert.ToHexStringLower(SHA256.HashData([.. salt, .. value]));
                    if (!hex.AsSpan().SequenceEqual(System.Text.Encoding.ASCII.GetBytes(expected)))
                        Assert.Fail($"seed {seed}: salt '{System.Text.Encoding.UTF8.GetString(salt)}', value {Convert.ToHexString(value)}: {System.Text.Encoding.ASCII.GetString(hex)} != {expected}");
                    checkedValues++;
                }
            }
        }
        output.WriteLine($"{checkedValues} digests checked");
    }

    [Fact]
    public void A_thread_keeps_its_memo_while_the_salt_is_the_same_and_empties_it_for_another()
    {
        Sha256HexMemo? memo = null;
        var first = Sha256HexMemo.For(ref memo, "a"u8.ToArray());
        Assert.Same(first, Sha256HexMemo.For(ref memo, "a"u8.ToArray()));
        var hex = new byte[Sha256HexMemo.HexBytes];
        first.WriteHex("Rafael Brown"u8, hex);
        Sha256HexMemo.For(ref memo, "b"u8.ToArray()).WriteHex("Rafael Brown"u8, hex);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData("bRafael Brown"u8)), System.Text.Encoding.ASCII.GetString(hex));
    }
}

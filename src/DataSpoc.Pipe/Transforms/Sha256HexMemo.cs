using System.IO.Hashing;
using System.Security.Cryptography;

namespace DataSpoc.Pipe.Transforms;

/// <summary>
/// The lower-case hex SHA-256 of a salt followed by a short value (<c>hash:</c>), remembered for the values seen last:
/// a hashed column usually repeats its values (names, user ids, countries), and finding a remembered digest costs a
/// small fraction of computing it. One per thread; the digest is always exactly what <see cref="ShortValueSha256"/>
/// gives, the memo only decides whether it is computed again.
/// </summary>
/// <remarks>
/// Direct-mapped: a value's slot is picked by its XxHash3, and a slot holds one value and its digest, compared byte for
/// byte before it is used, so a collision only costs a digest. Values longer than <see cref="MaxValueBytes"/> are not
/// remembered (long text rarely repeats), and when fewer than a quarter of the last <see cref="Probe"/> lookups found
/// their value, the memo is left aside for the next <see cref="Rest"/> values (a column of distinct values, such as
/// e-mail addresses, then pays for lookups on <see cref="Probe"/> values in every <see cref="Probe"/> + <see cref="Rest"/>).
/// </remarks>
internal sealed class Sha256HexMemo
{
    public const int HexBytes = SHA256.HashSizeInBytes * 2;
    private const int Slots = 4096;
    private const int MaxValueBytes = 48;
    private const int Probe = 4096;
    private const int Rest = 60_000;

    private readonly ShortValueSha256 _sha256 = new();
    private byte[] _salt;
    private readonly byte[] _values = new byte[Slots * MaxValueBytes];
    private readonly byte[] _digests = new byte[Slots * HexBytes];
    /// <summary>Per slot, the remembered value's length plus one (0: empty).</summary>
    private readonly int[] _lengths = new int[Slots];
    private int _lookups;
    private int _found;
    private int _resting;

    public Sha256HexMemo(byte[] salt) => _salt = salt;

    /// <summary>A thread's memo for <paramref name="salt"/>: <paramref name="memo"/> itself when it has that salt, else one that has, emptied.</summary>
    public static Sha256HexMemo For(ref Sha256HexMemo? memo, byte[] salt)
    {
        if (memo is null) return memo = new Sha256HexMemo(salt);
        if (!ReferenceEquals(memo._salt, salt) && !memo._salt.AsSpan().SequenceEqual(salt)) memo.Reset(salt);
        return memo;
    }

    /// <summary>Writes the <see cref="HexBytes"/> lower-case hex digits of SHA-256(salt, <paramref name="value"/>) to <paramref name="hex"/>.</summary>
    public void WriteHex(ReadOnlySpan<byte> value, Span<byte> hex)
    {
        if (value.Length > MaxValueBytes) { Compute(value, hex); return; }
        if (_resting > 0)
        {
            _resting--;
            Compute(value, hex);
            return;
        }
        var slot = (int)(XxHash3.HashToUInt64(value) & (Slots - 1));
        var remembered = _values.AsSpan(slot * MaxValueBytes, value.Length);
        var digest = _digests.AsSpan(slot * HexBytes, HexBytes);
        if (_lengths[slot] == value.Length + 1 && remembered.SequenceEqual(value))
        {
            digest.CopyTo(hex);
            _found++;
        }
        else
        {
            Compute(value, hex);
            value.CopyTo(remembered);
            hex[..HexBytes].CopyTo(digest);
            _lengths[slot] = value.Length + 1;
        }
        if (++_lookups < Probe) return;
        if (_found < Probe / 4) _resting = Rest;
        _lookups = _found = 0;
    }

    private void Compute(ReadOnlySpan<byte> value, Span<byte> hex)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        _sha256.Hash(_salt, value, hash);
        Convert.TryToHexStringLower(hash, hex, out _);
    }

    private void Reset(byte[] salt)
    {
        _salt = salt;
        Array.Clear(_lengths);
        _lookups = _found = _resting = 0;
    }
}

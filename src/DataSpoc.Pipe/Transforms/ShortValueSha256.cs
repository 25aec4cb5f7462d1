using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace DataSpoc.Pipe.Transforms;

/// <summary>
/// SHA-256 of many short values on one thread (<c>hash:</c>, one per parsing lane). On Linux it calls libcrypto's
/// low-level <c>SHA256_Init</c>/<c>SHA256_Update</c>/<c>SHA256_Final</c> directly on a context of its own; elsewhere,
/// or when the process's libcrypto does not export them, it is an <see cref="IncrementalHash"/>.
/// </summary>
/// <remarks>
/// Why not <see cref="IncrementalHash"/> everywhere: for a 10-40-byte value .NET's OpenSSL shim costs several times the
/// hash itself (an EVP dispatch and an error-queue clear on every call); the low-level functions are the same OpenSSL
/// code (SHA-NI where the CPU has it) without that. 1M values of 10-40 bytes: 0.19-0.30 s against 1.46-1.66 s
/// (bench/README.md, typed transforms: hash). The native functions are checked once against
/// <see cref="SHA256.HashData(ReadOnlySpan{byte})"/> before they are used.
/// </remarks>
internal sealed unsafe class ShortValueSha256
{
    /// <summary>sizeof(SHA256_CTX) is 112 bytes in OpenSSL 1.1 and 3.x; room to spare.</summary>
    private const int ContextBytes = 256;

    private static readonly Native? Functions = Native.TryLoad();

    /// <summary>Whether the native functions are used (for tests and the bench notes).</summary>
    internal static bool IsNative => Functions is not null;

    /// <summary>The native context (pinned), or null when <see cref="_fallback"/> is used.</summary>
    private readonly byte[]? _context;
    private readonly IncrementalHash? _fallback;

    public ShortValueSha256()
    {
        if (Functions is not null) _context = GC.AllocateArray<byte>(ContextBytes, pinned: true);
        else _fallback = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    }

    /// <summary>Writes the SHA-256 of <paramref name="prefix"/> followed by <paramref name="value"/> to <paramref name="hash"/> (32 bytes).</summary>
    public void Hash(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> value, Span<byte> hash)
    {
        if (hash.Length < SHA256.HashSizeInBytes) throw new ArgumentException("the hash needs 32 bytes", nameof(hash));
        if (Functions is { } f)
        {
            fixed (byte* context = _context)
            fixed (byte* p = prefix)
            fixed (byte* v = value)
            fixed (byte* h = hash)
            {
                if (f.Init(context) != 1 || (prefix.Length > 0 && f.Update(context, p, (nuint)prefix.Length) != 1)
                    || f.Update(context, v, (nuint)value.Length) != 1 || f.Final(h, context) != 1)
                    throw new CryptographicException("libcrypto's SHA256 failed");
            }
            return;
        }
        if (prefix.Length > 0) _fallback!.AppendData(prefix);
        _fallback!.AppendData(value);
        _fallback.GetHashAndReset(hash);
    }

    private sealed class Native
    {
        public required delegate* unmanaged<byte*, int> Init { get; init; }
        public required delegate* unmanaged<byte*, byte*, nuint, int> Update { get; init; }
        public required delegate* unmanaged<byte*, byte*, int> Final { get; init; }

        /// <summary>The low-level functions of the libcrypto .NET itself loads on Linux, if they give the right hashes.</summary>
        public static Native? TryLoad()
        {
            if (!OperatingSystem.IsLinux()) return null;
            foreach (var name in (string[])["libcrypto.so.3", "libcrypto.so.1.1"])
            {
                if (!NativeLibrary.TryLoad(name, out var library)) continue;
                if (NativeLibrary.TryGetExport(library, "SHA256_Init", out var init)
                    && NativeLibrary.TryGetExport(library, "SHA256_Update", out var update)
                    && NativeLibrary.TryGetExport(library, "SHA256_Final", out var final))
                {
                    var native = new Native
                    {
                        Init = (delegate* unmanaged<byte*, int>)init,
                        Update = (delegate* unmanaged<byte*, byte*, nuint, int>)update,
                        Final = (delegate* unmanaged<byte*, byte*, int>)final,
                    };
                    if (native.GivesSha256()) return native;
                }
                return null;
            }
            return null;
        }

        /// <summary>A known-answer check over values that span one and two blocks, against .NET's SHA-256.</summary>
        private bool GivesSha256()
        {
            var context = stackalloc byte[ContextBytes];
            Span<byte> ours = stackalloc byte[SHA256.HashSizeInBytes];
            foreach (var text in (string[])["", "abc", "dataspoc-pipe hash: a value longer than one SHA-256 block of sixty-four bytes"])
            {
                var bytes = Encoding.UTF8.GetBytes(text);
                fixed (byte* v = bytes)
                fixed (byte* h = ours)
                    if (Init(context) != 1 || Update(context, v, (nuint)bytes.Length) != 1 || Final(h, context) != 1) return false;
                if (!ours.SequenceEqual(SHA256.HashData(bytes))) return false;
            }
            return true;
        }
    }
}

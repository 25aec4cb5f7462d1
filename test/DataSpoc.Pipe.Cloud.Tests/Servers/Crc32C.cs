using System.Buffers.Binary;

namespace DataSpoc.Pipe.Cloud.Tests.Servers;

/// <summary>CRC-32C (Castagnoli), as GCS reports it: big-endian, base64 in JSON. The client library validates uploads against it.</summary>
public static class Crc32C
{
    private static readonly uint[] Table = Enumerable.Range(0, 256).Select(i =>
    {
        var c = (uint)i;
        for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    public static byte[] Hash(Stream stream)
    {
        var crc = 0xFFFFFFFFu;
        var buffer = new byte[1 << 16];
        int read;
        while ((read = stream.Read(buffer)) > 0)
            foreach (var b in buffer.AsSpan(0, read))
                crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        var result = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(result, ~crc);
        return result;
    }
}

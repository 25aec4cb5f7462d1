using System.Runtime.InteropServices;
using System.Text;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// The few functions of libpq (PostgreSQL's C client library, the one <c>psql</c> uses) that a full-table binary COPY
/// needs, loaded at run time. Null (<see cref="Functions"/>) when the library is not installed, cannot be loaded, or
/// <see cref="ForceNpgsqlVariable"/> says so: the tap then reads the COPY through Npgsql.
/// </summary>
/// <remarks>
/// Why libpq for the COPY: Npgsql's raw COPY stream returns one CopyData message (one row) per read through an async
/// read path, which costs 0.4-0.9 s of CPU for 1M rows where psql takes 0.05-0.2 s (bench/README.md). libpq's
/// <c>PQgetCopyData</c> hands over a row from a large socket buffer with no more than a malloc and a copy.
/// </remarks>
internal static unsafe class Libpq
{
    /// <summary>Set to <c>npgsql</c> to read every COPY through Npgsql even when libpq is installed.</summary>
    public const string ForceNpgsqlVariable = "DATASPOC_PIPE_POSTGRES_COPY";

    private static readonly Lazy<Native?> Loaded = new(Native.TryLoad);

    /// <summary>libpq's functions, or null when the COPY goes through Npgsql.</summary>
    public static Native? Functions =>
        string.Equals(Environment.GetEnvironmentVariable(ForceNpgsqlVariable), "npgsql", StringComparison.OrdinalIgnoreCase) ? null : Loaded.Value;

    public const int ConnectionOk = 0;
    public const int CommandOk = 1;
    public const int TuplesOk = 2;
    public const int CopyOut = 3;
    /// <summary>PG_DIAG_MESSAGE_PRIMARY: the server's message without severity, location or detail.</summary>
    public const int MessagePrimary = 'M';

    internal sealed class Native
    {
        public required delegate* unmanaged<byte**, byte**, int, nint> ConnectdbParams { get; init; }
        public required delegate* unmanaged<nint, int> Status { get; init; }
        public required delegate* unmanaged<nint, byte*> ErrorMessage { get; init; }
        public required delegate* unmanaged<nint, void> Finish { get; init; }
        public required delegate* unmanaged<nint, byte*, nint> Exec { get; init; }
        public required delegate* unmanaged<nint, int> ResultStatus { get; init; }
        public required delegate* unmanaged<nint, byte*> ResultErrorMessage { get; init; }
        public required delegate* unmanaged<nint, int, byte*> ResultErrorField { get; init; }
        public required delegate* unmanaged<nint, void> Clear { get; init; }
        public required delegate* unmanaged<nint, byte**, int, int> GetCopyData { get; init; }
        public required delegate* unmanaged<void*, void> FreeMem { get; init; }
        public required delegate* unmanaged<nint, nint> GetResult { get; init; }
        public required delegate* unmanaged<nint, nint> GetCancel { get; init; }
        public required delegate* unmanaged<nint, byte*, int, int> Cancel { get; init; }
        public required delegate* unmanaged<nint, void> FreeCancel { get; init; }

        public static Native? TryLoad()
        {
            if (OperatingSystem.IsWindows()) return null;
            string[] names = OperatingSystem.IsMacOS() ? ["libpq.5.dylib", "libpq.dylib"] : ["libpq.so.5", "libpq.so"];
            foreach (var name in names)
            {
                if (!NativeLibrary.TryLoad(name, out var library)) continue;
                return Export(library, "PQconnectdbParams", out var connect) && Export(library, "PQstatus", out var status)
                    && Export(library, "PQerrorMessage", out var error) && Export(library, "PQfinish", out var finish)
                    && Export(library, "PQexec", out var exec) && Export(library, "PQresultStatus", out var resultStatus)
                    && Export(library, "PQresultErrorMessage", out var resultError) && Export(library, "PQresultErrorField", out var resultField)
                    && Export(library, "PQclear", out var clear) && Export(library, "PQgetCopyData", out var copyData)
                    && Export(library, "PQfreemem", out var freeMem) && Export(library, "PQgetResult", out var getResult)
                    && Export(library, "PQgetCancel", out var getCancel) && Export(library, "PQcancel", out var cancel)
                    && Export(library, "PQfreeCancel", out var freeCancel)
                    ? new Native
                    {
                        ConnectdbParams = (delegate* unmanaged<byte**, byte**, int, nint>)connect,
                        Status = (delegate* unmanaged<nint, int>)status,
                        ErrorMessage = (delegate* unmanaged<nint, byte*>)error,
                        Finish = (delegate* unmanaged<nint, void>)finish,
                        Exec = (delegate* unmanaged<nint, byte*, nint>)exec,
                        ResultStatus = (delegate* unmanaged<nint, int>)resultStatus,
                        ResultErrorMessage = (delegate* unmanaged<nint, byte*>)resultError,
                        ResultErrorField = (delegate* unmanaged<nint, int, byte*>)resultField,
                        Clear = (delegate* unmanaged<nint, void>)clear,
                        GetCopyData = (delegate* unmanaged<nint, byte**, int, int>)copyData,
                        FreeMem = (delegate* unmanaged<void*, void>)freeMem,
                        GetResult = (delegate* unmanaged<nint, nint>)getResult,
                        GetCancel = (delegate* unmanaged<nint, nint>)getCancel,
                        Cancel = (delegate* unmanaged<nint, byte*, int, int>)cancel,
                        FreeCancel = (delegate* unmanaged<nint, void>)freeCancel,
                    }
                    : null;
            }
            return null;
        }

        private static bool Export(nint library, string name, out nint address) => NativeLibrary.TryGetExport(library, name, out address);
    }

    /// <summary>A NUL-terminated C string as .NET text (libpq's messages are in the client encoding, UTF-8 here).</summary>
    public static string Text(byte* text) => text is null ? "" : Encoding.UTF8.GetString(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(text)).TrimEnd();

    /// <summary><paramref name="text"/> as a NUL-terminated UTF-8 string in unmanaged memory (free with <see cref="Marshal.FreeHGlobal"/>).</summary>
    public static byte* CString(string text)
    {
        var bytes = Encoding.UTF8.GetByteCount(text);
        var memory = (byte*)Marshal.AllocHGlobal(bytes + 1);
        Encoding.UTF8.GetBytes(text, new Span<byte>(memory, bytes));
        memory[bytes] = 0;
        return memory;
    }
}

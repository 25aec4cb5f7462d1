using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Cloud.Tests.Servers;

/// <summary>
/// A loopback stand-in for the GCS JSON API, limited to the calls the store makes: resumable and media uploads,
/// object metadata and media GET (whole, or a single byte range), list with prefix and pagination, DELETE, and <c>ifGenerationMatch</c>
/// (0 = only if absent) checked when a session starts and again when it is finalised. No GCS emulator installs
/// from the registries this project may use, so GCS is tested against this. Objects are files on disk, so
/// large uploads do not inflate the test process's memory.
/// </summary>
public sealed class GcsStandInServer : IAsyncDisposable
{
    private readonly HttpListener _listener;
    private readonly string _root = NewRoot();
    private readonly ConcurrentDictionary<string, byte> _buckets = new();
    private readonly Dictionary<(string Bucket, string Name), StoredObject> _objects = [];
    private readonly ConcurrentDictionary<string, Session> _sessions = new();
    private readonly Lock _gate = new();
    private readonly Task _loop;
    private long _generation = 1_700_000_000_000_000;

    public GcsStandInServer()
    {
        (_listener, Port) = DataSpoc.Pipe.Tests.Support.LoopbackHttp.StartOnFreePort();
        _loop = Task.Run(AcceptLoop);
    }

    public int Port { get; }

    /// <summary>
    /// A folder named after this process, made after removing those of processes that are gone: the folder is deleted
    /// when the test process exits, but the test host may end the process before a few hundred MB are deleted, and
    /// each left behind kept ~340 MB of a full test run on the disk.
    /// </summary>
    private static string NewRoot()
    {
        var temp = Path.GetTempPath();
        foreach (var stale in Directory.EnumerateDirectories(temp, "gcs-standin-*"))
        {
            var name = Path.GetFileName(stale).Split('-');
            if (name.Length < 4 || !int.TryParse(name[2], CultureInfo.InvariantCulture, out var pid) || Directory.Exists($"/proc/{pid}")) continue;
            try { Directory.Delete(stale, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        return Directory.CreateTempSubdirectory($"gcs-standin-{Environment.ProcessId}-").FullName;
    }

    /// <summary>Buckets for which every call answers 403, to check the store's permission messages.</summary>
    public ConcurrentDictionary<string, byte> DeniedBuckets { get; } = new();

    public void CreateBucket(string name) => _buckets[name] = 0;

    /// <summary>The <c>Authorization</c> header of every call that sent one, for credential tests.</summary>
    public ConcurrentQueue<string> Authorizations { get; } = new();

    /// <summary>
    /// Service accounts whose credentials are refused: a call whose bearer token is a JWT issued by one of them (a
    /// service-account key file signs its own) answers 401 <c>Invalid Credentials</c>, as GCS answers for a deleted or
    /// disabled key. Tokens are otherwise not checked.
    /// </summary>
    public ConcurrentDictionary<string, byte> RefusedIssuers { get; } = new();

    /// <summary>
    /// Resumable sessions for objects under <paramref name="prefix"/> started but neither finished nor cancelled (other
    /// tests' sessions may be open on this shared server).
    /// </summary>
    public int OpenSessionsUnder(string prefix) => _sessions.Values.Count(s => s.Name.StartsWith(prefix + "/", StringComparison.Ordinal));

    private sealed record StoredObject(string Path, long Generation, long Size, string Md5, string Crc32c, DateTimeOffset Updated);
    private sealed record Session(string Bucket, string Name, long? IfGenerationMatch, string Path)
    {
        public long Received;
        public readonly SemaphoreSlim Gate = new(1, 1);
    }

    private async Task AcceptLoop()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception) { return; }
            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var response = context.Response;
        try
        {
            await RouteAsync(context.Request, response);
        }
        catch (HttpListenerException) { }
        catch (IOException) { }
        catch (Exception e)
        {
            try { Error(response, 500, e.Message); } catch (Exception) { }
        }
        finally
        {
            try { response.Close(); } catch (Exception) { }
        }
    }

    private async Task RouteAsync(HttpListenerRequest request, HttpListenerResponse response)
    {
        var raw = request.RawUrl ?? "/";
        var q = raw.IndexOf('?');
        var path = q < 0 ? raw : raw[..q];
        var query = ParseQuery(q < 0 ? "" : raw[(q + 1)..]);
        var segments = path.Trim('/').Split('/').Select(Uri.UnescapeDataString).ToArray();
        var method = request.HttpMethod;
        if (request.Headers["Authorization"] is { } authorization)
        {
            Authorizations.Enqueue(authorization);
            if (Issuer(authorization) is { } issuer && RefusedIssuers.ContainsKey(issuer))
            {
                response.Headers["WWW-Authenticate"] = "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"";
                Error(response, 401, "Invalid Credentials");
                return;
            }
        }

        // /upload/storage/v1/b/{bucket}/o
        if (segments is ["upload", "storage", "v1", "b", var ub, "o"])
        {
            if (Denied(ub, response) || MissingBucket(ub, response)) return;
            if (method == "POST" && query.GetValueOrDefault("uploadType") == "resumable") { await StartSessionAsync(request, response, ub, query); return; }
            if (method == "POST" && query.GetValueOrDefault("uploadType") == "media") { await MediaUploadAsync(request, response, ub, query); return; }
            if (method == "PUT" && query.TryGetValue("upload_id", out var id)) { await SessionPutAsync(request, response, id); return; }
            if (method == "DELETE" && query.TryGetValue("upload_id", out var cancelled))
            {
                if (_sessions.TryRemove(cancelled, out var s)) File.Delete(s.Path);
                response.StatusCode = 499;
                return;
            }
            Error(response, 400, $"unsupported upload call {method} {raw}");
            return;
        }
        // /storage/v1/b/{bucket}/o and /storage/v1/b/{bucket}/o/{object}; /download/storage/v1/b/{bucket}/o/{object}
        if (segments is ["storage", "v1", "b", var lb, "o"] && method == "GET")
        {
            if (Denied(lb, response) || MissingBucket(lb, response)) return;
            List(response, lb, query);
            return;
        }
        if (segments is ["storage" or "download", .., "b", var bucket, "o", var name] && segments.Length is 6 or 7)
        {
            if (Denied(bucket, response) || MissingBucket(bucket, response)) return;
            if (method == "GET") { await GetAsync(request, response, bucket, name, query, media: query.GetValueOrDefault("alt") == "media"); return; }
            if (method == "DELETE") { Delete(response, bucket, name, query); return; }
        }
        Error(response, 400, $"unsupported call {method} {raw}");
    }

    /// <summary>The <c>iss</c> of a bearer JWT; null for any other token.</summary>
    private static string? Issuer(string authorization)
    {
        var parts = authorization.StartsWith("Bearer ", StringComparison.Ordinal) ? authorization["Bearer ".Length..].Split('.') : [];
        if (parts.Length != 3) return null;
        try
        {
            return JsonNode.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1]))?["iss"]?.GetValue<string>();
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    private bool Denied(string bucket, HttpListenerResponse response)
    {
        if (!DeniedBuckets.ContainsKey(bucket)) return false;
        Error(response, 403, $"caller does not have storage.objects access to the Google Cloud Storage bucket {bucket}.");
        return true;
    }

    private bool MissingBucket(string bucket, HttpListenerResponse response)
    {
        if (_buckets.ContainsKey(bucket)) return false;
        Error(response, 404, "The specified bucket does not exist.");
        return true;
    }

    private async Task StartSessionAsync(HttpListenerRequest request, HttpListenerResponse response, string bucket, Dictionary<string, string> query)
    {
        var body = await new StreamReader(Body(request)).ReadToEndAsync();
        var name = query.GetValueOrDefault("name");
        if (name is null && body.Length > 0) name = JsonNode.Parse(body)?["name"]?.GetValue<string>();
        if (string.IsNullOrEmpty(name)) { Error(response, 400, "object name required"); return; }
        long? condition = query.TryGetValue("ifGenerationMatch", out var g) ? long.Parse(g, CultureInfo.InvariantCulture) : null;
        if (!PreconditionHolds(bucket, name, condition)) { Error(response, 412, "At least one of the pre-conditions you specified did not hold."); return; }
        var id = Guid.NewGuid().ToString("N");
        var session = new Session(bucket, name, condition, Path.Combine(_root, "upload-" + id));
        await File.WriteAllBytesAsync(session.Path, []);
        _sessions[id] = session;
        response.StatusCode = 200;
        response.Headers["Location"] = $"http://{request.Headers["Host"]}/upload/storage/v1/b/{Uri.EscapeDataString(bucket)}/o?uploadType=resumable&upload_id={id}";
    }

    private async Task SessionPutAsync(HttpListenerRequest request, HttpListenerResponse response, string id)
    {
        if (!_sessions.TryGetValue(id, out var session)) { Error(response, 404, "No such upload session."); return; }
        await session.Gate.WaitAsync();
        try
        {
            // Content-Range: "bytes START-END/TOTAL", "bytes START-END/*", "bytes */TOTAL" or "bytes */*".
            var range = (request.Headers["Content-Range"] ?? "bytes */*")["bytes ".Length..];
            var slash = range.IndexOf('/');
            var span = range[..slash];
            long? total = range[(slash + 1)..] == "*" ? null : long.Parse(range[(slash + 1)..], CultureInfo.InvariantCulture);
            if (span != "*")
            {
                var start = long.Parse(span[..span.IndexOf('-')], CultureInfo.InvariantCulture);
                if (start > session.Received) { Error(response, 400, $"chunk starts at {start}, server has {session.Received}"); return; }
                var skip = session.Received - start; // bytes the server already has (a retried chunk)
                await using var file = new FileStream(session.Path, FileMode.Append, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
                var buffer = new byte[1 << 16];
                int read;
                var input = Body(request);
                while ((read = await input.ReadAsync(buffer)) > 0)
                {
                    var offset = (int)Math.Min(skip, read);
                    skip -= offset;
                    if (read > offset) await file.WriteAsync(buffer.AsMemory(offset, read - offset));
                    session.Received += read - offset;
                }
            }
            if (total is { } size && session.Received >= size)
            {
                var stored = Commit(session.Bucket, session.Name, session.Path, session.IfGenerationMatch);
                _sessions.TryRemove(id, out _);
                if (stored is null) { Error(response, 412, "At least one of the pre-conditions you specified did not hold."); return; }
                Json(response, 200, Describe(session.Bucket, session.Name, stored, request));
                return;
            }
            response.StatusCode = 308;
            if (session.Received > 0) response.Headers["Range"] = $"bytes=0-{session.Received - 1}";
        }
        finally
        {
            session.Gate.Release();
        }
    }

    private async Task MediaUploadAsync(HttpListenerRequest request, HttpListenerResponse response, string bucket, Dictionary<string, string> query)
    {
        var name = query.GetValueOrDefault("name");
        if (string.IsNullOrEmpty(name)) { Error(response, 400, "object name required"); return; }
        long? condition = query.TryGetValue("ifGenerationMatch", out var g) ? long.Parse(g, CultureInfo.InvariantCulture) : null;
        var temp = Path.Combine(_root, "media-" + Guid.NewGuid().ToString("N"));
        await using (var file = File.Create(temp)) await Body(request).CopyToAsync(file);
        var stored = Commit(bucket, name, temp, condition);
        if (stored is null) { Error(response, 412, "At least one of the pre-conditions you specified did not hold."); return; }
        Json(response, 200, Describe(bucket, name, stored, request));
    }

    /// <summary>The request body, un-gzipped when the client compressed it (the .NET client gzips JSON bodies).</summary>
    private static Stream Body(HttpListenerRequest request) =>
        string.Equals(request.Headers["Content-Encoding"], "gzip", StringComparison.OrdinalIgnoreCase)
            ? new System.IO.Compression.GZipStream(request.InputStream, System.IO.Compression.CompressionMode.Decompress)
            : request.InputStream;

    private bool PreconditionHolds(string bucket, string name, long? ifGenerationMatch)
    {
        lock (_gate)
        {
            if (ifGenerationMatch is not { } expected) return true;
            return _objects.TryGetValue((bucket, name), out var current) ? current.Generation == expected : expected == 0;
        }
    }

    /// <summary>Makes an uploaded file the object's new generation if the precondition still holds; null when it does not.</summary>
    private StoredObject? Commit(string bucket, string name, string uploaded, long? ifGenerationMatch)
    {
        string md5, crc;
        using (var file = File.OpenRead(uploaded))
            md5 = Convert.ToBase64String(MD5.HashData(file));
        using (var file = File.OpenRead(uploaded))
            crc = Convert.ToBase64String(Crc32C.Hash(file));
        lock (_gate)
        {
            if (!PreconditionHolds(bucket, name, ifGenerationMatch))
            {
                File.Delete(uploaded);
                return null;
            }
            var generation = ++_generation;
            var path = Path.Combine(_root, "object-" + generation.ToString(CultureInfo.InvariantCulture));
            File.Move(uploaded, path);
            var stored = new StoredObject(path, generation, new FileInfo(path).Length, md5, crc, DateTimeOffset.UtcNow);
            if (_objects.TryGetValue((bucket, name), out var previous)) TryDelete(previous.Path);
            _objects[(bucket, name)] = stored;
            return stored;
        }
    }

    private static void TryDelete(string path)
    {
        // A reader may still stream the old generation; on Unix the open file survives the unlink.
        try { File.Delete(path); } catch (IOException) { }
    }

    private async Task GetAsync(HttpListenerRequest request, HttpListenerResponse response, string bucket, string name, Dictionary<string, string> query, bool media)
    {
        StoredObject? stored;
        lock (_gate) _objects.TryGetValue((bucket, name), out stored);
        if (stored is null || (query.TryGetValue("generation", out var g) && long.Parse(g, CultureInfo.InvariantCulture) != stored.Generation))
        {
            Error(response, 404, $"No such object: {bucket}/{name}");
            return;
        }
        if (!media)
        {
            Json(response, 200, Describe(bucket, name, stored, null));
            return;
        }
        FileStream file;
        try { file = new FileStream(stored.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, useAsync: true); }
        catch (FileNotFoundException) { Error(response, 404, $"No such object: {bucket}/{name}"); return; }
        await using (file)
        {
            response.ContentType = "application/octet-stream";
            response.Headers["x-goog-generation"] = stored.Generation.ToString(CultureInfo.InvariantCulture);
            response.Headers["x-goog-hash"] = $"crc32c={stored.Crc32c},md5={stored.Md5}";
            if (request.Headers["Range"] is not { } range)
            {
                response.StatusCode = 200;
                response.ContentLength64 = stored.Size;
                await file.CopyToAsync(response.OutputStream);
                return;
            }
            // As GCS answers a ranged media GET: 206 with the bytes asked for (cut at the object's end), 416 past it.
            if (ByteRange(range, stored.Size) is not var (first, last))
            {
                response.Headers["Content-Range"] = $"bytes */{stored.Size}";
                Error(response, 416, "The requested range cannot be satisfied.");
                return;
            }
            response.StatusCode = 206;
            response.Headers["Content-Range"] = $"bytes {first}-{last}/{stored.Size}";
            response.ContentLength64 = last - first + 1;
            file.Seek(first, SeekOrigin.Begin);
            var buffer = new byte[1 << 16];
            for (var left = last - first + 1; left > 0;)
            {
                var read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)));
                if (read == 0) break;
                await response.OutputStream.WriteAsync(buffer.AsMemory(0, read));
                left -= read;
            }
        }
    }

    /// <summary>
    /// The first and last byte of a single <c>Range: bytes=first-[last]</c> or suffix <c>bytes=-n</c> within an object of
    /// <paramref name="size"/> bytes; null when it starts at or past the end (GCS answers 416 then).
    /// </summary>
    private static (long First, long Last)? ByteRange(string header, long size)
    {
        var spec = header.StartsWith("bytes=", StringComparison.Ordinal) ? header["bytes=".Length..] : throw new InvalidOperationException($"unsupported Range header '{header}'");
        var dash = spec.IndexOf('-');
        if (dash < 0 || spec.Contains(',')) throw new InvalidOperationException($"unsupported Range header '{header}'");
        if (dash == 0)
        {
            var suffix = long.Parse(spec[1..], CultureInfo.InvariantCulture);
            return size == 0 || suffix == 0 ? null : (Math.Max(0, size - suffix), size - 1);
        }
        var first = long.Parse(spec[..dash], CultureInfo.InvariantCulture);
        var last = dash == spec.Length - 1 ? size - 1 : Math.Min(size - 1, long.Parse(spec[(dash + 1)..], CultureInfo.InvariantCulture));
        return first >= size ? null : (first, last);
    }

    private void List(HttpListenerResponse response, string bucket, Dictionary<string, string> query)
    {
        var prefix = query.GetValueOrDefault("prefix") ?? "";
        var max = query.TryGetValue("maxResults", out var m) ? int.Parse(m, CultureInfo.InvariantCulture) : 1000;
        var after = query.GetValueOrDefault("pageToken");
        List<(string Name, StoredObject Stored)> matching;
        lock (_gate)
        {
            matching = _objects.Where(o => o.Key.Bucket == bucket && o.Key.Name.StartsWith(prefix, StringComparison.Ordinal)
                                           && (after is null || string.CompareOrdinal(o.Key.Name, after) > 0))
                .Select(o => (o.Key.Name, o.Value)).OrderBy(o => o.Name, StringComparer.Ordinal).ToList();
        }
        var page = matching.Take(max).ToList();
        var result = new JsonObject
        {
            ["kind"] = "storage#objects",
            ["items"] = new JsonArray([.. page.Select(o => (JsonNode)Describe(bucket, o.Name, o.Stored, null))]),
        };
        if (matching.Count > max) result["nextPageToken"] = page[^1].Name;
        Json(response, 200, result);
    }

    private void Delete(HttpListenerResponse response, string bucket, string name, Dictionary<string, string> query)
    {
        lock (_gate)
        {
            if (!_objects.TryGetValue((bucket, name), out var stored)) { Error(response, 404, $"No such object: {bucket}/{name}"); return; }
            if (query.TryGetValue("ifGenerationMatch", out var g) && long.Parse(g, CultureInfo.InvariantCulture) != stored.Generation)
            {
                Error(response, 412, "At least one of the pre-conditions you specified did not hold.");
                return;
            }
            _objects.Remove((bucket, name));
            TryDelete(stored.Path);
        }
        response.StatusCode = 204;
    }

    /// <summary>Whether an object exists (for tests that check nothing partial became visible).</summary>
    public bool Exists(string bucket, string name)
    {
        lock (_gate) return _objects.ContainsKey((bucket, name));
    }

    private JsonObject Describe(string bucket, string name, StoredObject stored, HttpListenerRequest? request)
    {
        var generation = stored.Generation.ToString(CultureInfo.InvariantCulture);
        var host = request?.Headers["Host"] ?? $"127.0.0.1:{Port}";
        return new JsonObject
        {
            ["kind"] = "storage#object",
            ["id"] = $"{bucket}/{name}/{generation}",
            ["name"] = name,
            ["bucket"] = bucket,
            ["generation"] = generation,
            ["metageneration"] = "1",
            ["contentType"] = "application/octet-stream",
            ["size"] = stored.Size.ToString(CultureInfo.InvariantCulture),
            ["md5Hash"] = stored.Md5,
            ["crc32c"] = stored.Crc32c,
            ["timeCreated"] = stored.Updated.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            ["updated"] = stored.Updated.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            ["mediaLink"] = $"http://{host}/download/storage/v1/b/{Uri.EscapeDataString(bucket)}/o/{Uri.EscapeDataString(name)}?generation={generation}&alt=media",
        };
    }

    private static void Json(HttpListenerResponse response, int status, JsonNode body)
    {
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
        response.StatusCode = status;
        response.ContentType = "application/json; charset=UTF-8";
        response.ContentLength64 = bytes.Length;
        response.OutputStream.Write(bytes);
    }

    private static void Error(HttpListenerResponse response, int status, string message) =>
        Json(response, status, new JsonObject
        {
            ["error"] = new JsonObject
            {
                ["code"] = status,
                ["message"] = message,
                ["errors"] = new JsonArray(new JsonObject { ["message"] = message, ["domain"] = "global", ["reason"] = status switch { 401 => "authError", 404 => "notFound", 412 => "conditionNotMet", 403 => "forbidden", _ => "invalid" } }),
            },
        });

    private static Dictionary<string, string> ParseQuery(string query)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var key = Uri.UnescapeDataString((eq < 0 ? pair : pair[..eq]).Replace('+', ' '));
            result[key] = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
        }
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        // Close alone: on Unix, Stop() then Close() releases the port and binds it again for a moment, which fails
        // ("Address already in use") when another test took the port in between.
        _listener.Close();
        try { await _loop; } catch (Exception) { }
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}

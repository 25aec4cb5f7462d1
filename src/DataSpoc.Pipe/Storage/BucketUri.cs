namespace DataSpoc.Pipe.Storage;

/// <summary>
/// A parsed bucket URI: <c>file:///abs/dir</c>, <c>s3://bucket/prefix</c>, <c>gs://bucket</c>, <c>az://container</c>.
/// Aliases are normalised: <c>gcs</c> -> <c>gs</c>; <c>abfs</c>/<c>abfss</c> -> <c>az</c>.
/// </summary>
public sealed record BucketUri(string Scheme, string Bucket, string Prefix, string Original)
{
    /// <summary>For file://, the absolute local directory of the bucket.</summary>
    public string LocalPath => Scheme == "file" ? "/" + Bucket + (Prefix.Length > 0 ? "/" + Prefix : "") : throw new InvalidOperationException("not a file:// bucket");

    /// <summary>The URI with its canonical scheme and no trailing slash, e.g. for the manifest's <c>location</c>.</summary>
    public string Canonical => Scheme == "file"
        ? "file://" + LocalPath
        : $"{Scheme}://{Bucket}" + (Prefix.Length > 0 ? "/" + Prefix : "");

    /// <summary>
    /// The key prefix (ending in '/') of <paramref name="location"/>, a folder URI as a lake commit writes it into the
    /// manifest (<see cref="Canonical"/> + '/' + keys), when it lies inside this bucket and its prefix; else null.
    /// Whoever can write the bucket can edit its manifest, so a location is followed no further than that: no other
    /// scheme, bucket or sibling folder, and no '.', '..' or empty segment that could climb out once resolved.
    /// </summary>
    public string? KeyPrefixOf(string location)
    {
        if (!location.StartsWith(Canonical + "/", StringComparison.Ordinal)) return null;
        var key = location[(Canonical.Length + 1)..].TrimEnd('/');
        var inside = key.Length > 0 && !key.Any(char.IsControl) && HasPlainSegments(key);
        return inside ? key + "/" : null;
    }

    /// <summary>
    /// Whether every '/'-separated segment of <paramref name="path"/> (a bucket prefix, <c>destination.path</c>, a key)
    /// is a name: not empty, '.' or '..'. The one rule for every path the lake builds keys from: a store sends such a
    /// segment as it is, and whoever resolves the URL (the Azure SDK's <see cref="Uri"/>, a client that mirrors the
    /// bucket to disk, a reader that normalises the location) ends up in another folder or container than the one named.
    /// </summary>
    internal static bool HasPlainSegments(string path) => path.Split('/').All(segment => segment is not ("" or "." or ".."));

    /// <summary>
    /// Parses a bucket URI; throws <see cref="FormatException"/> with the reason. A cloud bucket and its prefix must be
    /// plain names (<see cref="HasPlainSegments"/>): <c>az://lake/../victim</c> would write into container <c>victim</c>,
    /// <c>s3://lake/../x</c> into literal <c>../x/</c> keys. A <c>file://</c> path is a local path and is resolved as
    /// the operating system does (<c>file:///data/lake/../x</c> is <c>/data/x</c>): its <see cref="Canonical"/> form,
    /// which the manifest and the lock record, names the directory actually written.
    /// </summary>
    public static BucketUri Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var text = uri.Trim();
        var sep = text.IndexOf("://", StringComparison.Ordinal);
        if (sep <= 0)
            throw new FormatException($"bucket '{uri}' has no scheme: use file:///abs/dir, s3://bucket, gs://bucket or az://container");
        var scheme = text[..sep].ToLowerInvariant() switch
        {
            "gcs" => "gs",
            "abfs" or "abfss" => "az",
            var s => s,
        };
        var rest = text[(sep + 3)..];
        if (scheme == "file")
        {
            if (!rest.StartsWith('/'))
                throw new FormatException($"bucket '{uri}' must be an absolute path: file:///abs/dir");
            var full = ResolveLocalPath(uri, rest).TrimEnd('/');
            if (full.Length == 0)
                throw new FormatException($"bucket '{uri}' cannot be the root directory");
            RefuseUriDelimiters(uri, full);
            return new BucketUri("file", full.TrimStart('/'), "", uri);
        }
        if (scheme is not ("s3" or "gs" or "az"))
            throw new FormatException($"bucket '{uri}' has unsupported scheme '{scheme}://': use file://, s3://, gs:// (gcs://) or az:// (abfs://, abfss://)");
        rest = rest.Trim('/');
        // abfs(s)://container@account.dfs.core.windows.net/prefix names the container before '@'.
        var slash = rest.IndexOf('/');
        var bucket = slash < 0 ? rest : rest[..slash];
        var prefix = slash < 0 ? "" : rest[(slash + 1)..].Trim('/');
        var at = bucket.IndexOf('@');
        if (at >= 0) bucket = bucket[..at];
        if (bucket.Length == 0)
            throw new FormatException($"bucket '{uri}' names no bucket");
        if (!HasPlainSegments(bucket) || (prefix.Length > 0 && !HasPlainSegments(prefix)))
            throw new FormatException($"bucket '{uri}' must not contain empty, '.' or '..' segments in its bucket name or prefix");
        if (NameRuleBroken(scheme, bucket) is { } rule)
            throw new FormatException($"bucket '{uri}': {rule}");
        RefuseUriDelimiters(uri, bucket + "/" + prefix);
        return new BucketUri(scheme, bucket, prefix, uri);
    }

    /// <summary>
    /// An absolute local path resolved as the system resolves it, keeping every symbolic link the system does not need
    /// to follow: the manifest's locations name a lake's folder the way its bucket is written (existing lakes' locations
    /// keep their links), so two spellings of one folder must give one form. Without a <c>..</c> segment that is the path
    /// without its empty and <c>.</c> segments. A <c>..</c> goes up from the folder the kernel has reached, i.e. through
    /// the links on the way: with <c>link -&gt; real/sub</c>, <c>link/../x</c> is <c>real/x</c>, where
    /// <c>Path.GetFullPath</c> (lexical) would say <c>x</c>, a folder a reader opening the same URI never finds. Where
    /// going up as written reaches the same folder (no link, or <c>x -&gt; y</c> beside it), the path keeps its spelling,
    /// so <c>/data/x/../lake</c> is <c>/data/lake</c>, link <c>lake</c> included, as <c>/data/lake</c> is; the segments
    /// after the last <c>..</c> are never resolved. Segments past the existing folders are taken as written (mkdir -p
    /// makes them). A folder the kernel cannot go up from (a link loop, a dangling link, a file) is refused.
    /// </summary>
    private static string ResolveLocalPath(string uri, string path)
    {
        if (!path.Split('/').Contains("..")) return Path.GetFullPath(path);
        var current = "";
        foreach (var segment in path.Split('/'))
        {
            if (segment is "" or ".") continue;
            if (segment != "..")
            {
                current += "/" + segment;
                continue;
            }
            if (current.Length == 0) continue; // '/..' is '/'
            var physicalParent = ParentOf(PhysicalPath(uri, current));
            var writtenParent = ParentOf(current);
            current = PhysicalPath(uri, writtenParent) == physicalParent ? writtenParent : physicalParent;
        }
        return current.Length == 0 ? "/" : current;
    }

    private static string ParentOf(string path) => path[..Math.Max(0, path.LastIndexOf('/'))];

    /// <summary>
    /// The folder <paramref name="path"/> (absolute, without '.' or '..' segments) really is: the kernel's walk, each
    /// segment in turn, a symbolic link replaced by its target, and '..' in a target the parent of the folder reached so
    /// far. A '..' goes up from this path, so each of its existing segments must be a folder, as the kernel requires; a
    /// segment that does not exist ends the links (the rest is taken as written).
    /// </summary>
    private static string PhysicalPath(string uri, string path)
    {
        var pending = new Stack<string>(path.Split('/').Reverse());
        var current = "";
        var links = 0;
        while (pending.TryPop(out var segment))
        {
            if (segment is "" or ".") continue;
            if (segment == "..")
            {
                current = ParentOf(current);
                continue;
            }
            var next = current + "/" + segment;
            string? target;
            try { target = new FileInfo(next).LinkTarget; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { target = null; }
            if (target is null)
            {
                if (File.Exists(next))
                    throw new FormatException($"bucket '{uri}': '{next}' is a file, not a folder a '..' can go up from");
                current = next;
                continue;
            }
            // The kernel refuses such a link (ELOOP, ENOENT, ENOTDIR) where a '..' follows it; picking a folder anyway
            // would land the lake where no reader opening the same URI looks (or create the missing target's folders).
            if (++links > 40 || !Directory.Exists(next))
                throw new FormatException($"bucket '{uri}': '{next}' is a symbolic link to '{target}', {LinkProblem(next)}: a '..' cannot go up from it");
            foreach (var part in target.Split('/').Reverse()) pending.Push(part);
            if (target.StartsWith('/')) current = "";
        }
        return current;
    }

    /// <summary>Why the symbolic link <paramref name="link"/> leads to no folder (only for the message: the chain is
    /// followed as written, the kernel's answer was already no).</summary>
    private static string LinkProblem(string link)
    {
        var path = link;
        try
        {
            for (var links = 0; new FileInfo(path).LinkTarget is { } target; links++)
            {
                if (links == 40) return "a loop of symbolic links";
                path = Path.GetFullPath(target, Path.GetDirectoryName(path)!);
            }
        }
        catch (IOException)
        {
            return "a loop of symbolic links";
        }
        return File.Exists(path) ? "which is a file, not a folder" : "which does not exist";
    }

    /// <summary>
    /// The provider's naming rule that <paramref name="bucket"/> breaks, or null. Checked here, where the URI is read,
    /// because the services answer a bad name with errors that point elsewhere: Azure a 400 InvalidResourceName on the
    /// first write (which <c>validate</c> reads as a permission problem), the GCS client an ArgumentException, and an
    /// S3-compatible server "bucket does not exist". (S3 buckets created in us-east-1 before 2018 could have capitals or
    /// '_'; such legacy names cannot be addressed virtual-hosted style and are not supported.)
    /// </summary>
    internal static string? NameRuleBroken(string scheme, string bucket)
    {
        var (rule, allowed) = scheme switch
        {
            "s3" => ("S3 bucket names are 3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit", ".-"),
            "gs" => ("GCS bucket names are 3-63 lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or digit", ".-_"),
            "az" => ("Azure container names are 3-63 lowercase letters, digits and '-', starting with a letter or digit, without '--' or a trailing '-'", "-"),
            _ => (null, ""),
        };
        if (rule is null) return null;
        // Azure's own containers ($root: blobs at the account's root, $web: a static website, $logs: analytics logs).
        if (scheme == "az" && bucket is "$root" or "$web" or "$logs") return null;
        // GCS allows dotted (domain) names of up to 222 characters, each dot-separated part at most 63.
        var longest = scheme == "gs" && bucket.Contains('.') ? 222 : 63;
        var bad = bucket.FirstOrDefault(c => !(c is >= 'a' and <= 'z' or >= '0' and <= '9' || allowed.Contains(c)));
        var problem =
            bad != default ? (char.IsUpper(bad) ? $"'{bucket}' has the capital letter '{bad}'" : $"'{bucket}' has '{bad}'")
            : bucket.Length < 3 || bucket.Length > longest ? $"'{bucket}' has {bucket.Length} characters"
            : !char.IsAsciiLetterOrDigit(bucket[0]) || !char.IsAsciiLetterOrDigit(bucket[^1]) ? $"'{bucket}' starts or ends with '{(char.IsAsciiLetterOrDigit(bucket[0]) ? bucket[^1] : bucket[0])}'"
            : scheme == "az" && bucket.Contains("--", StringComparison.Ordinal) ? $"'{bucket}' has '--'"
            : scheme == "s3" && bucket.Contains("..", StringComparison.Ordinal) ? $"'{bucket}' has '..'"
            : scheme == "gs" && bucket.Split('.').Any(part => part.Length > 63) ? $"'{bucket}' has a dot-separated part longer than 63 characters"
            : null;
        return problem is null ? null : $"{rule}; {problem}";
    }

    private static void RefuseUriDelimiters(string uri, string path)
    {
        if (Lake.LakeNames.UriDelimiterIn(path) is { } delimiter)
            throw new FormatException($"bucket '{uri}' must not contain '{delimiter}': {Lake.LakeNames.UriDelimiterWhy}");
    }

    public override string ToString() => Canonical;
}

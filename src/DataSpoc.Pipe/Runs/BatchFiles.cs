using System.IO.Compression;
using DataSpoc.Pipe.Singer;
using DataSpoc.Pipe.Sources.BuiltIn;
using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Runs;

/// <summary>
/// Reads the files a BATCH message names (local paths, <c>file://</c>, or any bucket URL the run's stores open) and hands
/// each record object to a callback, in file order: jsonl lines (gzip or not) as they are, Parquet rows as JSON objects.
/// </summary>
internal sealed class BatchFiles(ObjectStoreFactory stores, IReadOnlyDictionary<string, string> storageOptions)
{
    public async Task ReadAsync(SingerBatch batch, Action<string> beginFile, BatchRecordHandler onRecord, CancellationToken cancellationToken)
    {
        await using var files = new SourceFiles("BATCH", stores, storageOptions);
        foreach (var url in batch.Manifest)
        {
            var resolved = await files.ResolveAsync([LocalPathOf(url)], ["*"], cancellationToken).ConfigureAwait(false);
            foreach (var file in resolved)
            {
                beginFile(url);
                if (batch.Format == "parquet")
                {
                    await ParquetTap.ForEachRecordAsync(file, onRecord, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                await using var raw = await file.Open(cancellationToken).ConfigureAwait(false);
                await using var input = batch.Compression == "gzip" ? new GZipStream(raw, CompressionMode.Decompress) : raw;
                using var lines = new SingerLineReader(input);
                while (lines.TryReadLine(out var line))
                {
                    if (line.Trim(" \t\r"u8).IsEmpty) continue;
                    onRecord(line, lines.LineNumber);
                }
            }
        }
    }

    /// <summary><c>file:///abs/path</c> as a plain path; anything else as given.</summary>
    private static string LocalPathOf(string url) =>
        url.StartsWith("file://", StringComparison.OrdinalIgnoreCase) ? Uri.UnescapeDataString(new Uri(url).LocalPath) : url;
}

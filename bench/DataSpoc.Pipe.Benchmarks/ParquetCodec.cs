namespace DataSpoc.Pipe.Benchmarks;

/// <summary>The codec settings compared: zstd at an explicit level, or snappy.</summary>
public enum ParquetCodec { Zstd1, Zstd3, Snappy }

using BenchmarkDotNet.Running;
using DataSpoc.Pipe.Benchmarks;

// `parquet-sizes`: writes each library x codec once and prints the output sizes (BenchmarkDotNet reports time and
// allocations only). Anything else goes to BenchmarkDotNet: e.g. `--filter '*ParquetLibrary*'`.
if (args is ["parquet-sizes", ..])
{
    var data = new NarrowColumns(1_000_000);
    foreach (var codec in Enum.GetValues<ParquetCodec>())
    {
        using var sharp = new MemoryStream();
        ParquetWriters.WriteWithParquetSharp(data, codec, sharp);
        using var net = new MemoryStream();
        await ParquetWriters.WriteWithParquetNetAsync(data, codec, net);
        using var small = new MemoryStream();
        ParquetWriters.WriteWithParquetSharp(data, codec, small, DictionaryPolicy.SmallPageLimit);
        using var off = new MemoryStream();
        ParquetWriters.WriteWithParquetSharp(data, codec, off, DictionaryPolicy.OffForHighCardinality);
        Console.WriteLine($"{codec,-7} ParquetSharp {sharp.Length,12:N0} B (64 KiB dictionary limit {small.Length:N0} B; " +
                          $"no dictionary for id/amount/created_at {off.Length:N0} B)   Parquet.Net {net.Length,12:N0} B");
        if (args.Length > 1)
        {
            File.WriteAllBytes(Path.Combine(args[1], $"parquetsharp-{codec}.parquet"), sharp.ToArray());
            File.WriteAllBytes(Path.Combine(args[1], $"parquetnet-{codec}.parquet"), net.ToArray());
        }
    }
    return 0;
}
BenchmarkSwitcher.FromAssembly(typeof(NarrowColumns).Assembly).Run(args);
return 0;

namespace DataSpoc.Pipe.BenchData;

/// <summary>A tiny seeded PRNG whose sequence never changes across .NET versions (System.Random's may), so inputs are reproducible.</summary>
public struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong Next()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, bound).</summary>
    public int Below(int bound) => (int)((Next() >> 33) % (ulong)bound);

    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    public bool Chance(double p) => NextDouble() < p;

    public T Pick<T>(T[] values) => values[Below(values.Length)];
}

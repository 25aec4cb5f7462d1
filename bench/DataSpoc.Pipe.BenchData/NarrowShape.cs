using System.Text.Json;

namespace DataSpoc.Pipe.BenchData;

/// <summary>One row of the narrow shape, as typed values (the benchmarks build column arrays from these).</summary>
public readonly record struct NarrowRow(
    long Id, string Name, string? Note, double Amount, bool Flag, string Status, DateTimeOffset CreatedAt, long Qty);

/// <summary>
/// The "narrow" shape of issue #5: 8 columns — integer, string, string with ~10% nulls, double, boolean,
/// low-cardinality string (5 values), date-time with offsets, integer — about 226 bytes per RECORD line.
/// </summary>
public sealed class NarrowShape : IShape
{
    public const string Stream = "orders";

    public string StreamName => Stream;

    public static NarrowRow NextRow(ref SplitMix64 rng, long index) => new(
        Id: index + 1,
        Name: rng.Pick(Words.FirstNames) + " " + rng.Pick(Words.LastNames),
        Note: rng.Chance(0.10) ? null : Words.Sentence(ref rng, 4, 7),
        Amount: (long)(rng.NextDouble() * 1_000_000) / 100.0,
        Flag: rng.Chance(0.5),
        Status: rng.Pick(Words.Statuses),
        CreatedAt: DateTimeText.Next(ref rng),
        Qty: 1 + rng.Below(100));

    public void WriteSchema(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", "object");
        w.WriteStartObject("properties");
        Schema.Property(w, "id", "integer", nullable: false);
        Schema.Property(w, "name", "string");
        Schema.Property(w, "note", "string");
        Schema.Property(w, "amount", "number");
        Schema.Property(w, "flag", "boolean");
        Schema.Property(w, "status", "string");
        Schema.Property(w, "created_at", "string", format: "date-time");
        Schema.Property(w, "qty", "integer");
        w.WriteEndObject();
        w.WriteEndObject();
    }

    public void WriteRecord(Utf8JsonWriter w, ref SplitMix64 rng, long index)
    {
        var r = NextRow(ref rng, index);
        w.WriteStartObject();
        w.WriteNumber("id", r.Id);
        w.WriteString("name", r.Name);
        if (r.Note is null) w.WriteNull("note"); else w.WriteString("note", r.Note);
        w.WriteNumber("amount", r.Amount);
        w.WriteBoolean("flag", r.Flag);
        w.WriteString("status", r.Status);
        w.WriteString("created_at", DateTimeText.Format(r.CreatedAt));
        w.WriteNumber("qty", r.Qty);
        w.WriteEndObject();
    }
}

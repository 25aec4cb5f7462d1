using System.Text.Json;

namespace DataSpoc.Pipe.BenchData;

/// <summary>One row of the narrow shape, as typed values (the benchmarks build column arrays from these).</summary>
public readonly record struct NarrowRow(
    long Id, string Name, string? Note, double Amount, bool Flag, string Status, DateTimeOffset CreatedAt, long Qty);

/// <summary>
/// The "narrow" shape of issue #5: 8 columns — integer, string, string with ~10% nulls, double, boolean,
/// low-cardinality string (5 values), date-time with offsets, integer — about 226 bytes per RECORD line.
/// The variations of issue #23 write the same declared values (same seed, same draws) in another form:
/// <paramref name="undeclared"/> adds two properties the SCHEMA does not declare to every record (one after
/// <c>amount</c>, one at the end; their values come from the index, not the generator, so the declared values stay
/// those of the plain file); <paramref name="reversed"/> writes the properties in reverse schema order;
/// <paramref name="days"/> folds <c>created_at</c> into that many UTC days from 2024-01-01 (instead of the year),
/// so <c>partition_by: created_at</c> makes that many daily partitions.
/// </summary>
public sealed class NarrowShape(bool undeclared = false, bool reversed = false, int days = 0) : IShape
{
    public const string Stream = "orders";

    private static readonly DateTimeOffset DayZero = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

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
        if (days > 0)
        {
            var sinceStart = (r.CreatedAt - DayZero).Ticks % TimeSpan.FromDays(days).Ticks;
            r = r with { CreatedAt = DayZero.AddTicks(sinceStart).ToOffset(r.CreatedAt.Offset) };
        }
        w.WriteStartObject();
        if (reversed)
        {
            w.WriteNumber("qty", r.Qty);
            w.WriteString("created_at", DateTimeText.Format(r.CreatedAt));
            w.WriteString("status", r.Status);
            w.WriteBoolean("flag", r.Flag);
            w.WriteNumber("amount", r.Amount);
            if (r.Note is null) w.WriteNull("note"); else w.WriteString("note", r.Note);
            w.WriteString("name", r.Name);
            w.WriteNumber("id", r.Id);
        }
        else
        {
            w.WriteNumber("id", r.Id);
            w.WriteString("name", r.Name);
            if (r.Note is null) w.WriteNull("note"); else w.WriteString("note", r.Note);
            w.WriteNumber("amount", r.Amount);
            if (undeclared) w.WriteString("referrer", "campaign-" + (index % 97));
            w.WriteBoolean("flag", r.Flag);
            w.WriteString("status", r.Status);
            w.WriteString("created_at", DateTimeText.Format(r.CreatedAt));
            w.WriteNumber("qty", r.Qty);
            if (undeclared) w.WriteNumber("attempts", index % 7);
        }
        w.WriteEndObject();
    }
}

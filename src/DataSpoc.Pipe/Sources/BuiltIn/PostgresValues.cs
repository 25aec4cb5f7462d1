using System.Buffers.Binary;
using Npgsql;
using NpgsqlTypes;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// The values of one row, read column after column in select-list order: from a cursor's data reader (through Npgsql's
/// converters) or from a binary COPY row (decoded by <see cref="PostgresBinary"/>). A value comes out as the same .NET
/// value either way, and <see cref="PostgresColumn.Write{TValues}"/> holds the one rule for turning it into a typed
/// record value.
/// </summary>
/// <remarks>Implemented by structs and used as a generic constraint, so the per-value calls are not virtual.</remarks>
internal interface IPostgresValues
{
    /// <summary>Whether the next value is NULL; a NULL is then consumed.</summary>
    bool NextIsNull();

    /// <summary>
    /// The next value as <typeparamref name="T"/> (a value type); <paramref name="type"/> is the column's type. A date
    /// read as an int and a timestamp as a long are their binary forms (days, microseconds since 2000-01-01).
    /// </summary>
    T Next<T>(NpgsqlDbType type) where T : struct;

    /// <summary>
    /// The next text value: its UTF-8 bytes when the source holds them (a COPY row: no string is made), else an empty
    /// span and the string in <paramref name="text"/>. Bytes that are not valid UTF-8 throw, unless
    /// <paramref name="checkUtf8"/> is false because the caller's target checks them itself.
    /// </summary>
    ReadOnlySpan<byte> NextText(NpgsqlDbType type, out string? text, bool checkUtf8 = true);

    /// <summary>The next bytea value's bytes.</summary>
    ReadOnlySpan<byte> NextBytes();

    /// <summary>
    /// The next numeric value in PostgreSQL's binary form (<see cref="PostgresBinary.TryNumeric"/>): a numeric(38, s)
    /// holds more digits and places than a System.Decimal, which is all Npgsql reads it as.
    /// </summary>
    ReadOnlySpan<byte> NextNumeric();

    /// <summary>
    /// The value of field <paramref name="field"/> of this row as text for an error message (a key naming the row), or
    /// null when it cannot be read any more (a cursor reads forward only) or has no short text form.
    /// </summary>
    string? DescribeField(int field, PostgresValueKind kind);
}

/// <summary>A row of a cursor's result (<see cref="System.Data.CommandBehavior.SequentialAccess"/>), from ordinal 0.</summary>
internal struct CursorValues(NpgsqlDataReader reader) : IPostgresValues
{
    private int _ordinal;

    /// <summary>The ordinal of the next value (the select list can hold more than the table's columns).</summary>
    public readonly int Ordinal => _ordinal;

    public bool NextIsNull()
    {
        if (!reader.IsDBNull(_ordinal)) return false;
        _ordinal++;
        return true;
    }

    public T Next<T>(NpgsqlDbType type) where T : struct => reader.GetFieldValue<T>(_ordinal++);

    public ReadOnlySpan<byte> NextText(NpgsqlDbType type, out string? text, bool checkUtf8 = true)
    {
        text = reader.GetFieldValue<string>(_ordinal++);
        return default;
    }

    public ReadOnlySpan<byte> NextBytes() => reader.GetFieldValue<byte[]>(_ordinal++);

    /// <summary>Npgsql hands any column's binary form as a stream (as bytes only a bytea's).</summary>
    public ReadOnlySpan<byte> NextNumeric()
    {
        using var stream = reader.GetStream(_ordinal++);
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    public readonly string? DescribeField(int field, PostgresValueKind kind)
    {
        if (field < _ordinal || field >= reader.FieldCount) return null;
        try
        {
            return reader.IsDBNull(field) ? "null" : Convert.ToString(reader.GetValue(field), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is InvalidCastException or InvalidOperationException or OverflowException or ArgumentException or NpgsqlException)
        {
            return null;
        }
    }
}

/// <summary>
/// A row of a binary COPY (<c>COPY … TO STDOUT (FORMAT BINARY)</c>) as the server sent it, after its field count: per
/// field a big-endian int32 length (-1 for NULL) and that many bytes in the type's binary send format.
/// </summary>
internal ref struct CopyRowValues(ReadOnlySpan<byte> fields) : IPostgresValues
{
    private readonly ReadOnlySpan<byte> _fields = fields;
    private ReadOnlySpan<byte> _rest = fields;

    public bool NextIsNull()
    {
        if (BinaryPrimitives.ReadInt32BigEndian(_rest) != -1) return false;
        _rest = _rest[4..];
        return true;
    }

    private ReadOnlySpan<byte> NextValue()
    {
        var length = BinaryPrimitives.ReadInt32BigEndian(_rest);
        var value = _rest.Slice(4, length);
        _rest = _rest[(4 + length)..];
        return value;
    }

    public T Next<T>(NpgsqlDbType type) where T : struct
    {
        var value = NextValue();
        // Each branch is one type: the JIT keeps only the one of T.
        if (typeof(T) == typeof(short)) return (T)(object)BinaryPrimitives.ReadInt16BigEndian(value);
        if (typeof(T) == typeof(int)) return (T)(object)BinaryPrimitives.ReadInt32BigEndian(value);
        if (typeof(T) == typeof(long)) return (T)(object)BinaryPrimitives.ReadInt64BigEndian(value);
        if (typeof(T) == typeof(float)) return (T)(object)BinaryPrimitives.ReadSingleBigEndian(value);
        if (typeof(T) == typeof(double)) return (T)(object)BinaryPrimitives.ReadDoubleBigEndian(value);
        if (typeof(T) == typeof(bool)) return (T)(object)(value[0] != 0);
        if (typeof(T) == typeof(decimal)) return (T)(object)PostgresBinary.Numeric(value);
        if (typeof(T) == typeof(Guid)) return (T)(object)new Guid(value, bigEndian: true);
        if (typeof(T) == typeof(DateOnly)) return (T)(object)PostgresBinary.Date(value);
        if (typeof(T) == typeof(DateTime)) return (T)(object)PostgresBinary.Timestamp(value, type == NpgsqlDbType.TimestampTz);
        if (typeof(T) == typeof(TimeOnly)) return (T)(object)PostgresBinary.Time(value);
        throw new NotSupportedException($"a COPY value read as {typeof(T).Name}");
    }

    public ReadOnlySpan<byte> NextText(NpgsqlDbType type, out string? text, bool checkUtf8 = true)
    {
        text = null;
        var value = NextValue();
        // The connection's client_encoding is UTF8 (Npgsql sets it), so text arrives as UTF-8: the server stops the COPY
        // on bytes that are not (a SQL_ASCII database can hold them), and Npgsql's reader refuses them; so does this.
        if (checkUtf8 && !System.Text.Unicode.Utf8.IsValid(value)) throw new System.Text.DecoderFallbackException("the text is not valid UTF-8");
        return value;
    }

    public ReadOnlySpan<byte> NextBytes() => NextValue();

    public ReadOnlySpan<byte> NextNumeric() => NextValue();

    public readonly string? DescribeField(int field, PostgresValueKind kind)
    {
        var row = new CopyRowValues(_fields);
        for (var f = 0; f < field; f++)
            if (!row.NextIsNull()) row.NextValue();
        if (row.NextIsNull()) return "null";
        try
        {
            return kind switch
            {
                PostgresValueKind.Int16 => row.Next<short>(default).ToString(System.Globalization.CultureInfo.InvariantCulture),
                PostgresValueKind.Int32 => row.Next<int>(default).ToString(System.Globalization.CultureInfo.InvariantCulture),
                PostgresValueKind.Int64 => row.Next<long>(default).ToString(System.Globalization.CultureInfo.InvariantCulture),
                PostgresValueKind.Uuid => row.Next<Guid>(default).ToString("D"),
                PostgresValueKind.Date => row.Next<DateOnly>(default).ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                PostgresValueKind.Timestamp => row.Next<DateTime>(default).ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                PostgresValueKind.Text or PostgresValueKind.TextCast => System.Text.Encoding.UTF8.GetString(row.NextValue()),
                _ => null,
            };
        }
        catch (Exception e) when (e is InvalidCastException or OverflowException or ArgumentException)
        {
            return null;
        }
    }
}

/// <summary>
/// PostgreSQL's binary send formats of the types a COPY row is decoded from, read into the .NET values Npgsql's own
/// converters give (the cursor path reads through them), so both paths land the same values and fail on the same ones.
/// </summary>
internal static class PostgresBinary
{
    /// <summary>PostgreSQL's epoch for dates and timestamps.</summary>
    private static readonly DateTime Epoch = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Unspecified);
    private static readonly int EpochDay = DateOnly.FromDateTime(Epoch).DayNumber;

    /// <summary>A timestamp's binary form (<see cref="Timestamp(long, bool)"/>).</summary>
    public static DateTime Timestamp(ReadOnlySpan<byte> value, bool withZone) => Timestamp(BinaryPrimitives.ReadInt64BigEndian(value), withZone);

    /// <summary>Microseconds since 2000-01-01; ±infinity become DateTime.MaxValue/MinValue, as Npgsql maps them.</summary>
    public static DateTime Timestamp(long micros, bool withZone)
    {
        var kind = withZone ? DateTimeKind.Utc : DateTimeKind.Unspecified;
        if (micros == long.MaxValue) return DateTime.SpecifyKind(DateTime.MaxValue, kind);
        if (micros == long.MinValue) return DateTime.SpecifyKind(DateTime.MinValue, kind);
        var ticks = Epoch.Ticks + (Int128)micros * 10;
        if (ticks < DateTime.MinValue.Ticks || ticks > DateTime.MaxValue.Ticks)
            throw new InvalidCastException("the timestamp is outside the range of a .NET DateTime (years 1 to 9999)");
        return new DateTime((long)ticks, kind);
    }

    /// <summary>A date's binary form (<see cref="Date(int)"/>).</summary>
    public static DateOnly Date(ReadOnlySpan<byte> value) => Date(BinaryPrimitives.ReadInt32BigEndian(value));

    /// <summary>Days since 2000-01-01; ±infinity become DateOnly.MaxValue/MinValue, as Npgsql maps them.</summary>
    public static DateOnly Date(int days)
    {
        if (days == int.MaxValue) return DateOnly.MaxValue;
        if (days == int.MinValue) return DateOnly.MinValue;
        var day = (long)EpochDay + days;
        if (day < DateOnly.MinValue.DayNumber || day > DateOnly.MaxValue.DayNumber)
            throw new InvalidCastException("the date is outside the range of a .NET DateOnly (years 1 to 9999)");
        return DateOnly.FromDayNumber((int)day);
    }

    /// <summary>Microseconds since midnight (24:00:00, which PostgreSQL allows, has no TimeOnly).</summary>
    public static TimeOnly Time(ReadOnlySpan<byte> value)
    {
        var micros = BinaryPrimitives.ReadInt64BigEndian(value);
        if (micros < 0 || micros >= TimeSpan.TicksPerDay / 10)
            throw new InvalidCastException($"the time of {micros} microseconds past midnight is outside the range of a .NET TimeOnly");
        return new TimeOnly(micros * 10);
    }

    private const ushort NumericPositive = 0x0000, NumericNegative = 0x4000, NumericNaN = 0xC000;
    private static readonly UInt128 DecimalMantissaLimit = (UInt128)1 << 96;
    private static readonly ulong[] SmallPowers = [.. Enumerable.Range(0, 16).Select(e => Enumerable.Repeat(10UL, e).Aggregate(1UL, (a, b) => a * b))];
    private static readonly UInt128[] Powers = [.. Enumerable.Range(0, 33).Select(e => Enumerable.Repeat((UInt128)10, e).Aggregate((UInt128)1, (a, b) => a * b))];

    /// <summary>
    /// A numeric (base-10000 digits, the weight of the first, the sign, and the display scale) as the decimal with
    /// the same digits and scale (<c>1234.50</c> keeps its trailing zero, as Npgsql gives it). NaN, infinities and
    /// values beyond a decimal's 28-29 digits throw.
    /// </summary>
    public static decimal Numeric(ReadOnlySpan<byte> value) => TryNumeric(value, out var result) ? result : throw TooLarge();

    /// <summary>
    /// <see cref="Numeric"/>, false for a value beyond a decimal (more than 28-29 digits, or more than 28 after the point:
    /// <see cref="NumericText"/> has its digits). NaN and the infinities throw.
    /// </summary>
    public static bool TryNumeric(ReadOnlySpan<byte> value, out decimal result)
    {
        result = default;
        var count = BinaryPrimitives.ReadInt16BigEndian(value);
        var weight = BinaryPrimitives.ReadInt16BigEndian(value[2..]);
        var sign = BinaryPrimitives.ReadUInt16BigEndian(value[4..]);
        var scale = (int)BinaryPrimitives.ReadUInt16BigEndian(value[6..]);
        CheckFinite(sign);
        // The value times 10^scale, an integer: digit i stands for 10000^(weight - i).
        if (4 * weight + scale <= 15 && TrySmallNumeric(value, count, weight, scale, sign == NumericNegative, out result)) return true;
        UInt128 mantissa = 0;
        for (var i = 0; i < count; i++)
        {
            var digit = (uint)BinaryPrimitives.ReadInt16BigEndian(value[(8 + 2 * i)..]);
            if (digit == 0) continue;
            var exponent = 4 * (weight - i) + scale;
            if (exponent < 0)
            {
                // Digits past the display scale are zeros in a stored numeric.
                if (-exponent >= 4 || digit % (uint)Powers[-exponent] != 0) return false;
                mantissa += digit / (uint)Powers[-exponent];
            }
            else
            {
                // The first digit is not zero, so a term beyond 10^32 alone exceeds the 96-bit mantissa.
                if (exponent >= Powers.Length) return false;
                mantissa += digit * Powers[exponent];
            }
            if (mantissa >= DecimalMantissaLimit) return false;
        }
        if (scale > 28) return false;
        result = new decimal((int)(uint)mantissa, (int)(uint)(mantissa >> 32), (int)(uint)(mantissa >> 64), sign == NumericNegative && mantissa != 0, (byte)scale);
        return true;

        // The usual numeric(p, s) with p <= 15: the first digit's power of ten is at most 10^15, so every term is below
        // 10^19 and, their powers being 4 apart, so is their sum: the mantissa fits a ulong, with no 128-bit arithmetic
        // per digit. Anything else (a digit past the scale that is not zero, a digit out of range) is left to the loop
        // above, which decides.
        static bool TrySmallNumeric(ReadOnlySpan<byte> value, int count, int weight, int scale, bool negative, out decimal result)
        {
            result = default;
            ulong mantissa = 0;
            for (var i = 0; i < count; i++)
            {
                var digit = (ulong)BinaryPrimitives.ReadUInt16BigEndian(value[(8 + 2 * i)..]);
                var exponent = 4 * (weight - i) + scale;
                if (digit >= 10_000) return false;
                if (exponent >= 0) mantissa += digit * SmallPowers[exponent];
                else if (exponent > -4 && digit % SmallPowers[-exponent] == 0) mantissa += digit / SmallPowers[-exponent];
                else if (digit != 0) return false;
            }
            if (scale > 28) return false;
            result = new decimal((int)(uint)mantissa, (int)(uint)(mantissa >> 32), 0, negative && mantissa != 0, (byte)scale);
            return true;
        }
    }

    /// <summary>
    /// A numeric's exact digits at its display scale as JSON number text (<c>0.12345678901234567890</c>), for a value
    /// <see cref="TryNumeric"/> cannot hold: a DECIMAL(38, s) column reads it exactly, or refuses it by name. NaN and the
    /// infinities throw.
    /// </summary>
    public static byte[] NumericText(ReadOnlySpan<byte> value)
    {
        var count = BinaryPrimitives.ReadInt16BigEndian(value);
        var weight = BinaryPrimitives.ReadInt16BigEndian(value[2..]);
        var sign = BinaryPrimitives.ReadUInt16BigEndian(value[4..]);
        var scale = (int)BinaryPrimitives.ReadUInt16BigEndian(value[6..]);
        CheckFinite(sign);
        var unscaled = System.Numerics.BigInteger.Zero;
        for (var i = 0; i < count; i++)
        {
            var digit = (int)BinaryPrimitives.ReadInt16BigEndian(value[(8 + 2 * i)..]);
            var exponent = 4 * (weight - i) + scale;
            // Digits past the display scale are zeros in a stored numeric.
            unscaled += exponent >= 0 ? digit * System.Numerics.BigInteger.Pow(10, exponent) : digit / System.Numerics.BigInteger.Pow(10, -exponent);
        }
        return Parquet.DecimalWriter.Text(sign == NumericNegative ? -unscaled : unscaled, scale);
    }

    private static void CheckFinite(ushort sign)
    {
        if (sign is not (NumericPositive or NumericNegative))
            throw new InvalidCastException(sign == NumericNaN ? "NaN has no exact decimal form" : "an infinity has no exact decimal form");
    }

    private static OverflowException TooLarge() => new("the value has more digits than the tap's decimals hold (28-29 significant digits, up to 28 after the point)");
}

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>The types a text column (CSV, sheet export) can be declared as or inferred to.</summary>
internal enum TextColumnType { Integer, Number, Boolean, Date, DateTime, String }

/// <summary>
/// Type inference and conversion for text cells. Inference keeps, per column, the set of types every sampled
/// non-empty cell fits, and picks the narrowest (integer, number, boolean, date, date-time, else string).
/// An empty cell is null whatever the type.
/// </summary>
internal static class TextColumnTypes
{
    [Flags]
    internal enum Fits : byte
    {
        None = 0, Integer = 1, Number = 2, Boolean = 4, Date = 8, DateTime = 16,
        All = Integer | Number | Boolean | Date | DateTime,
    }

    public static TextColumnType Parse(string text, string where) => text.Trim().ToLowerInvariant() switch
    {
        "integer" or "int" => TextColumnType.Integer,
        "number" or "float" or "double" or "decimal" => TextColumnType.Number,
        "boolean" or "bool" => TextColumnType.Boolean,
        "date" => TextColumnType.Date,
        "date-time" or "datetime" or "timestamp" => TextColumnType.DateTime,
        "string" or "text" => TextColumnType.String,
        _ => throw new TapException($"{where}: unknown type '{text}' (use integer, number, boolean, date, date-time or string)"),
    };

    /// <summary>The types a non-empty cell fits.</summary>
    public static Fits FitsOf(ReadOnlySpan<char> cell)
    {
        var fits = Fits.None;
        if (IsInteger(cell)) fits |= Fits.Integer | Fits.Number;
        else if (IsNumber(cell)) fits |= Fits.Number;
        if (TryBoolean(cell, out _)) fits |= Fits.Boolean;
        if (TryDate(cell, out _)) fits |= Fits.Date;
        else if (TryDateTime(cell, out _)) fits |= Fits.DateTime;
        return fits;
    }

    /// <summary>The narrowest type all sampled cells fit; a column with no non-empty sample is a string.</summary>
    public static TextColumnType Choose(Fits fits, bool sawValue)
    {
        if (!sawValue) return TextColumnType.String;
        if (fits.HasFlag(Fits.Integer)) return TextColumnType.Integer;
        if (fits.HasFlag(Fits.Number)) return TextColumnType.Number;
        if (fits.HasFlag(Fits.Boolean)) return TextColumnType.Boolean;
        if (fits.HasFlag(Fits.Date)) return TextColumnType.Date;
        if (fits.HasFlag(Fits.DateTime)) return TextColumnType.DateTime;
        return TextColumnType.String;
    }

    /// <summary>The JSON Schema of a nullable column of this type.</summary>
    public static JsonObject Schema(TextColumnType type) => type switch
    {
        TextColumnType.Integer => new JsonObject { ["type"] = new JsonArray("null", "integer") },
        TextColumnType.Number => new JsonObject { ["type"] = new JsonArray("null", "number") },
        TextColumnType.Boolean => new JsonObject { ["type"] = new JsonArray("null", "boolean") },
        TextColumnType.Date => new JsonObject { ["type"] = new JsonArray("null", "string"), ["format"] = "date" },
        TextColumnType.DateTime => new JsonObject { ["type"] = new JsonArray("null", "string"), ["format"] = "date-time" },
        _ => new JsonObject { ["type"] = new JsonArray("null", "string") },
    };

    /// <summary>Writes one cell as a typed JSON property; returns false when the cell does not fit the type.</summary>
    public static bool TryWrite(Utf8JsonWriter json, JsonEncodedText name, TextColumnType type, ReadOnlySpan<char> cell)
    {
        if (cell.IsEmpty)
        {
            json.WriteNull(name);
            return true;
        }
        switch (type)
        {
            case TextColumnType.String:
                json.WriteString(name, cell);
                return true;
            case TextColumnType.Integer:
                if (!IsInteger(cell, allowLeadingZero: true) || !long.TryParse(cell, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return false;
                json.WriteNumber(name, l);
                return true;
            case TextColumnType.Number:
                if (!IsNumber(cell, allowLeadingZero: true)) return false;
                if (decimal.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out var m)) json.WriteNumber(name, m);
                else if (double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)) json.WriteNumber(name, d);
                else return false;
                return true;
            case TextColumnType.Boolean:
                if (!TryBoolean(cell, out var b)) return false;
                json.WriteBoolean(name, b);
                return true;
            case TextColumnType.Date:
                if (!TryDate(cell, out var date)) return false;
                Span<char> dateText = stackalloc char[10];
                date.TryFormat(dateText, out _, "yyyy-MM-dd", CultureInfo.InvariantCulture);
                json.WriteString(name, dateText);
                return true;
            case TextColumnType.DateTime:
                if (!TryDateTime(cell, out var instant)) return false;
                Span<char> text = stackalloc char[32];
                instant.UtcDateTime.TryFormat(text, out var written, "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
                json.WriteString(name, text[..written]);
                return true;
            default:
                return false;
        }
    }

    public static string Name(TextColumnType type) => type switch
    {
        TextColumnType.Integer => "integer",
        TextColumnType.Number => "number",
        TextColumnType.Boolean => "boolean",
        TextColumnType.Date => "date",
        TextColumnType.DateTime => "date-time",
        _ => "string",
    };

    /// <summary>
    /// An optional sign and digits fitting a long. Inference refuses a leading zero, so codes like <c>007</c> stay
    /// strings; a column declared integer accepts them.
    /// </summary>
    private static bool IsInteger(ReadOnlySpan<char> cell, bool allowLeadingZero = false)
    {
        var digits = cell.Length > 0 && cell[0] == '-' ? cell[1..] : cell;
        if (digits.IsEmpty || (digits.Length > 19 && !allowLeadingZero)) return false;
        if (digits.Length > 1 && digits[0] == '0' && !allowLeadingZero) return false;
        foreach (var c in digits) if (!char.IsAsciiDigit(c)) return false;
        return digits.Length < 19 || long.TryParse(cell, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _);
    }

    /// <summary>A JSON-compatible decimal number: sign, digits (no leading zero before more digits), optional fraction and exponent.</summary>
    private static bool IsNumber(ReadOnlySpan<char> cell, bool allowLeadingZero = false)
    {
        var i = 0;
        if (i < cell.Length && cell[i] == '-') i++;
        var start = i;
        while (i < cell.Length && char.IsAsciiDigit(cell[i])) i++;
        var intDigits = i - start;
        if (intDigits == 0 || (intDigits > 1 && cell[start] == '0' && !allowLeadingZero)) return false;
        if (i < cell.Length && cell[i] == '.')
        {
            i++;
            var fracStart = i;
            while (i < cell.Length && char.IsAsciiDigit(cell[i])) i++;
            if (i == fracStart) return false;
        }
        if (i < cell.Length && (cell[i] is 'e' or 'E'))
        {
            i++;
            if (i < cell.Length && (cell[i] is '+' or '-')) i++;
            var expStart = i;
            while (i < cell.Length && char.IsAsciiDigit(cell[i])) i++;
            if (i == expStart) return false;
        }
        return i == cell.Length;
    }

    private static bool TryBoolean(ReadOnlySpan<char> cell, out bool value)
    {
        if (cell.Equals("true", StringComparison.OrdinalIgnoreCase)) { value = true; return true; }
        if (cell.Equals("false", StringComparison.OrdinalIgnoreCase)) { value = false; return true; }
        value = false;
        return false;
    }

    private static bool TryDate(ReadOnlySpan<char> cell, out DateOnly date)
    {
        date = default;
        return cell.Length == 10 && DateOnly.TryParseExact(cell, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out date);
    }

    private static readonly string[] DateTimeFormats =
    [
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd HH:mm:ss.FFFFFFFK",
        "yyyy-MM-dd'T'HH:mmK", "yyyy-MM-dd HH:mmK",
    ];

    /// <summary>An ISO-8601 date and time (<c>T</c> or space separated), with or without an offset; without one it is taken as UTC.</summary>
    private static bool TryDateTime(ReadOnlySpan<char> cell, out DateTimeOffset instant)
    {
        instant = default;
        if (cell.Length < 16 || cell[4] != '-' || cell[7] != '-' || (cell[10] is not ('T' or ' '))) return false;
        return DateTimeOffset.TryParseExact(cell, DateTimeFormats, CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out instant);
    }
}

using Npgsql;
using NpgsqlTypes;

namespace DataSpoc.Pipe.Sources.BuiltIn;

/// <summary>
/// The values of one row, read column after column in select-list order: from a cursor's data reader or from a binary
/// COPY. Both read binary values through Npgsql's converters, so a value comes out as the same .NET value either way and
/// <see cref="PostgresColumn.Write{TValues}"/> holds the one rule for turning it into a typed record value.
/// </summary>
/// <remarks>Implemented by structs and used as a generic constraint, so the per-value calls are not virtual.</remarks>
internal interface IPostgresValues
{
    /// <summary>Whether the next value is NULL; a NULL is then consumed.</summary>
    bool NextIsNull();

    /// <summary>The next value as <typeparamref name="T"/>; <paramref name="type"/> is the column's type (a COPY row carries none).</summary>
    T Next<T>(NpgsqlDbType type);
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

    public T Next<T>(NpgsqlDbType type) => reader.GetFieldValue<T>(_ordinal++);
}

/// <summary>A row of a binary COPY, after <see cref="NpgsqlBinaryExporter.StartRow"/>.</summary>
internal readonly struct CopyValues(NpgsqlBinaryExporter exporter) : IPostgresValues
{
    public bool NextIsNull()
    {
        if (!exporter.IsNull) return false;
        exporter.Skip();
        return true;
    }

    public T Next<T>(NpgsqlDbType type) => exporter.Read<T>(type);
}

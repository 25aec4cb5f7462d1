using System.Text.Json;
using DataSpoc.Pipe.Parquet;

namespace DataSpoc.Pipe.Tests.Parquet;

/// <summary>
/// A run's column buffers take their arrays from the run's pool (<see cref="ColumnArrays"/>): the arrays hundreds of
/// streams give back together (a tap syncing 500 tables, record by record) are taken again by the next batches, on any
/// thread, instead of going to the collector and being allocated again.
/// </summary>
public class ColumnArraysTests
{
    [Fact]
    public async Task Arrays_that_hundreds_of_batches_gave_back_on_other_threads_are_taken_again()
    {
        var schema = ColumnSchema.FromJsonSchema(JsonDocument.Parse("""{"type":"object","properties":{"name":{"type":["null","string"]}}}""").RootElement);
        // 200 batches of one string column: 200 arrays of each kind and size, within what the pool keeps of a size.
        var budget = new BufferBudget(new WriteLimits());
        var batches = Enumerable.Range(0, 200).Select(_ => new ColumnBatch(schema, budget.Arrays)).ToList();
        var given = batches.SelectMany(b => b.Columns.SelectMany(c => new object[] { c.Def, c.Bytes, c.Offsets })).Where(a => ((Array)a).Length > 0)
            .ToHashSet(ReferenceEqualityComparer.Instance);
        // Released by another thread, as the encoder threads release the batches they wrote.
        await Task.Run(() => batches.ForEach(b => b.Release()));

        var again = Enumerable.Range(0, 200).Select(_ => new ColumnBatch(schema, budget.Arrays)).ToList();
        var taken = again.SelectMany(b => b.Columns.SelectMany(c => new object[] { c.Def, c.Bytes, c.Offsets })).Where(a => ((Array)a).Length > 0).ToList();
        var reused = taken.Count(given.Contains);
        Assert.True(reused == taken.Count, $"{reused} of {taken.Count} arrays taken again");
    }

    [Fact]
    public void A_list_column_whose_levels_came_back_larger_than_asked_takes_levels_past_the_smaller_one()
    {
        var schema = ColumnSchema.FromJsonSchema(JsonDocument.Parse("""{"type":"object","properties":{"ids":{"type":"array","items":{"type":"integer"}}}}""").RootElement);
        var leaf = schema.Leaves.Single();
        Assert.True(leaf.RepLevel > 0);
        // A size whose arrays are all lent out is served from the next size up. With every array of a size lent and one
        // left of twice that size, a buffer asking that size for both level arrays gets the larger one for its
        // definition levels and a new one of the size asked for its repetition levels. Every size a new buffer might
        // start at, so the one it does start at is among them.
        for (var size = 16; size <= 1024; size *= 2)
        {
            var arrays = new ColumnArrays();
            var lent = new List<short[]>();
            short[] array;
            do lent.Add(array = arrays.Rent<short>(size)); while (array.Length == size);
            do lent.Add(array = arrays.Rent<short>(size * 2)); while (array.Length == size * 2);
            arrays.Return(lent.First(a => a.Length == size * 2));

            var buffer = new LeafBuffer(leaf, arrays);
            var levels = size * 2 + 1;
            for (var i = 0; i < levels; i++)
            {
                var rep = (short)(i % 3 == 0 ? 0 : 1);
                if (i % 5 == 4) buffer.AddNull(1, rep);
                else buffer.AddLong(i, rep);
            }
            Assert.Equal(levels, buffer.Levels);
            Assert.Equal(Enumerable.Range(0, levels).Select(i => (short)(i % 3 == 0 ? 0 : 1)), buffer.Rep.Take(levels));
            Assert.Equal(Enumerable.Range(0, levels).Select(i => i % 5 == 4 ? (short)1 : leaf.DefLevel), buffer.Def.Take(levels));
            Assert.Equal(Enumerable.Range(0, levels).Where(i => i % 5 != 4).Select(i => (long)i), buffer.Longs.Take(buffer.Values));
        }
    }
}

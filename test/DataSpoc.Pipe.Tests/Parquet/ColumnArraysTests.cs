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
}

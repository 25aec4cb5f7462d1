using System.Text;
using System.Text.Json;
using DataSpoc.Pipe.Singer;

namespace DataSpoc.Pipe.Tests.Singer;

public class ParallelSingerReaderTests
{
    /// <summary>Records every delivered line, and for control messages how many records had been delivered by then.</summary>
    private sealed class Recorder(List<long> records, List<(long Line, long RecordsBefore)> controls, object gate) : ISingerHandler
    {
        public void OnRecord(ReadOnlySpan<byte> streamUtf8, ref Utf8JsonReader record, ReadOnlySpan<byte> rawLine, long line)
        {
            record.Skip();
            lock (gate) records.Add(line);
        }
        public void OnSchema(string stream, JsonElement schema, IReadOnlyList<string> keyProperties, long line) => Control(line);
        public void OnState(JsonElement value, long line) => Control(line);
        public void OnActivateVersion(string stream, long version, long line) => Control(line);
        public void OnUnknown(string type, long line) => Control(line);
        private void Control(long line)
        {
            lock (gate) controls.Add((line, records.Count));
        }
    }

    [Fact]
    public void Two_lanes_deliver_every_record_exactly_once_and_control_messages_after_all_records_before_them()
    {
        var text = new StringBuilder();
        var expectedRecords = new List<long>();
        var expectedControls = new List<(long, long)>();
        long lineNo = 0;
        for (var i = 0; i < 60_000; i++)
        {
            lineNo++;
            if (i % 7919 == 0)
            {
                text.Append("""{"type":"STATE","value":{"n":""").Append(i).Append("}}\n");
                expectedControls.Add((lineNo, expectedRecords.Count));
                continue;
            }
            // Both common spellings of the envelope, and one the fast path does not recognise.
            var prefix = (i % 3) switch { 0 => """{"type":"RECORD",""", 1 => """{"type": "RECORD", """, _ => """{"stream":"s","type":"RECORD",""" };
            text.Append(prefix).Append(i % 3 == 2 ? "" : "\"stream\":\"s\",").Append("\"record\":{\"id\":").Append(i).Append(",\"pad\":\"").Append('x', i % 300).Append("\"}}\n");
            expectedRecords.Add(lineNo);
        }
        var records = new List<long>();
        var controls = new List<(long, long)>();
        var gate = new object();
        using var lines = new SingerLineReader(new MemoryStream(Encoding.UTF8.GetBytes(text.ToString())));
        new ParallelSingerReader([new Recorder(records, controls, gate), new Recorder(records, controls, gate)], new Recorder(records, controls, gate))
            .ReadAll(lines, CancellationToken.None);

        Assert.Equal(expectedRecords, records.Order());
        Assert.Equal(expectedControls.Select(c => c.Item1), controls.Select(c => c.Item1));
        // A control message sees every record before it (records of the slow path count as delivered in order).
        foreach (var ((line, before), (_, expected)) in controls.Zip(expectedControls)) Assert.Equal(expected, before);
    }

    [Fact]
    public void An_error_in_a_lane_surfaces_with_its_line_number()
    {
        var text = new StringBuilder();
        for (var i = 1; i <= 50_000; i++)
            text.Append(i == 40_000 ? """{"type":"RECORD","stream":"s","record":{"id":""" + "\n" : """{"type":"RECORD","stream":"s","record":{"id":1}}""" + "\n");
        var sink = new List<long>();
        using var lines = new SingerLineReader(new MemoryStream(Encoding.UTF8.GetBytes(text.ToString())));
        var gate = new object();
        var e = Assert.Throws<SingerProtocolException>(() =>
            new ParallelSingerReader([new Recorder(sink, [], gate), new Recorder(sink, [], gate)], new Recorder(sink, [], gate)).ReadAll(lines, CancellationToken.None));
        Assert.Equal(40_000, e.Line);
    }
}

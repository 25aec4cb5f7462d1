using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
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
        public void OnState(SingerState state, long line) => Control(line);
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
                text.Append("""{"type":"ACTIVATE_VERSION","stream":"s","version":""").Append(i).Append("}\n");
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

    /// <summary>Keeps the STATE values handed on, with how many records had been delivered by then.</summary>
    private sealed class StateKeeper(List<long> records, List<(string What, long RecordsBefore)> controls, object gate) : ISingerHandler
    {
        public void OnRecord(ReadOnlySpan<byte> streamUtf8, ref Utf8JsonReader record, ReadOnlySpan<byte> rawLine, long line)
        {
            record.Skip();
            lock (gate) records.Add(line);
        }
        public void OnSchema(string stream, JsonElement schema, IReadOnlyList<string> keyProperties, long line) => Control("schema");
        public void OnState(SingerState state, long line) => Control("state " + (JsonNode.Parse(state.Text)?["n"] is { } n ? n.GetValue<int>().ToString() : state.Text));
        public void OnActivateVersion(string stream, long version, long line) => Control("activate");
        public void OnUnknown(string type, long line) => Control(type);
        private void Control(string what)
        {
            lock (gate) controls.Add((what, records.Count));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_state_after_every_record_cuts_no_chunk_and_the_latest_one_before_each_barrier_and_the_end_is_handed_on(int laneCount)
    {
        // 3 x 20,000 records, a STATE after each, an ACTIVATE_VERSION after the first third, a STATE of another spelling
        // (ordered path) after the second.
        var text = new StringBuilder();
        for (var i = 1; i <= 60_000; i++)
        {
            text.Append("""{"type": "RECORD", "stream": "s", "record": {"id": """).Append(i).Append("}}\n");
            text.Append("""{"type": "STATE", "value": {"n": """).Append(i).Append("}}\n");
            if (i == 20_000) text.Append("""{"type":"ACTIVATE_VERSION","stream":"s","version":7}""").Append('\n');
            if (i == 40_000) text.Append("""{"value": {"n": -1}, "type": "STATE"}""").Append('\n');
        }
        var records = new List<long>();
        var controls = new List<(string, long)>();
        var gate = new object();
        using var lines = new SingerLineReader(new MemoryStream(Encoding.UTF8.GetBytes(text.ToString())));
        var lanes = Enumerable.Range(0, laneCount).Select(_ => (ISingerHandler)new StateKeeper(records, controls, gate)).ToArray();
        new ParallelSingerReader(lanes, new StateKeeper(records, controls, gate)).ReadAll(lines, CancellationToken.None);

        Assert.Equal(60_000, records.Count);
        Assert.Equal([("state 20000", 20_000L), ("activate", 20_000L), ("state 40000", 40_000L), ("state -1", 40_000L), ("state 60000", 60_000L)], controls);
    }

    [Theory]
    [InlineData("""{"type":"STATE","value":{"n":1}}""", true)]
    [InlineData("""{"type": "STATE", "value": {"a": "\u00e9", "b": [1, {"c": null}]}, "extra": 1}""", true)]
    [InlineData("""{"type":"STATE"}""", false)]
    [InlineData("""{"type":"STATE","value":{"a":{"value":1}}}""", true)]
    [InlineData("""{"type":"STATE","nested":{"value":1}}""", false)]
    [InlineData("""{"type":"STATE","value":{"a":"\ud800"}}""", false)]
    [InlineData("""{"type":"STATE","value":{"a":1}""", false)]
    [InlineData("""{"type":"STATE","value":{"a":1}} x""", false)]
    [InlineData("""{"type":"STATE","value":NaN}""", false)]
    [InlineData("{\"type\":\"STATE\",\"value\":{\"bookma\u0001ks\":1}}", false, 0xF2)] // a byte that is not UTF-8 in a key, as the fuzzer made it
    [InlineData("{\"type\":\"STATE\",\"value\":{\"k\":\"a\\n\u0001\"}}", false, 0xC3)]    // an escape, then a lone lead byte
    public void A_state_line_is_held_only_when_the_full_reader_would_take_it(string line, bool held, int rawByte = 0)
    {
        // rawByte: the byte the character U+0001 of the line stands for, as it is.
        byte[] bytes = [.. Encoding.UTF8.GetBytes(line).Select(b => b == 0x01 && rawByte != 0 ? (byte)rawByte : b)];
        Assert.Equal(held, SingerMessageReader.IsWellFormedState(bytes));
        // What the full reader says of the same line: taken (a state handed on) or an error naming the line.
        var controls = new List<(string, long)>();
        var reader = new SingerMessageReader(new StateKeeper([], controls, new object()));
        var taken = true;
        try { reader.DispatchLine(bytes, 1, unterminated: false); }
        catch (SingerProtocolException) { taken = false; }
        Assert.Equal(held, taken && controls.Count == 1);
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

    /// <summary>Notes the thread each record is parsed on.</summary>
    private sealed class ThreadNoter(List<int> threads, object gate) : ISingerHandler
    {
        public void OnRecord(ReadOnlySpan<byte> streamUtf8, ref Utf8JsonReader record, ReadOnlySpan<byte> rawLine, long line)
        {
            record.Skip();
            lock (gate) threads.Add(Environment.CurrentManagedThreadId);
        }
        public void OnSchema(string stream, JsonElement schema, IReadOnlyList<string> keyProperties, long line) { }
        public void OnState(SingerState state, long line) { }
        public void OnActivateVersion(string stream, long version, long line) { }
        public void OnUnknown(string type, long line) { }
    }

    [Fact]
    public void The_records_just_before_a_barrier_are_parsed_on_the_reading_thread_not_handed_to_a_lane_and_waited_for()
    {
        // A tap syncing many small tables: a SCHEMA every two records. Each hand-off to a lane thread, waited for at
        // the next SCHEMA at once, cost ~100 spins of the waiting thread (sched_yield), more than parsing the records.
        var text = new StringBuilder();
        for (var t = 0; t < 500; t++)
        {
            text.Append("{\"type\":\"SCHEMA\",\"stream\":\"s").Append(t).Append("\",\"schema\":{\"properties\":{\"id\":{\"type\":\"integer\"}}},\"key_properties\":[]}\n");
            for (var r = 0; r < 2; r++) text.Append("{\"type\":\"RECORD\",\"stream\":\"s").Append(t).Append("\",\"record\":{\"id\":").Append(r).Append("}}\n");
        }
        var threads = new List<int>();
        var gate = new object();
        using var lines = new SingerLineReader(new MemoryStream(Encoding.UTF8.GetBytes(text.ToString())));
        // A thread of its own, as a run reads (a long-running task): a wait on a pool thread may run the task it waits
        // for itself, which a run's reading thread does not.
        var readingThread = new Thread(() =>
            new ParallelSingerReader([new ThreadNoter(threads, gate), new ThreadNoter(threads, gate)], new ThreadNoter(threads, gate))
                .ReadAll(lines, CancellationToken.None));
        readingThread.Start();
        readingThread.Join();

        Assert.Equal(1000, threads.Count);
        Assert.All(threads, t => Assert.Equal(readingThread.ManagedThreadId, t));
    }

    [Fact]
    public void An_error_in_a_lane_is_reported_before_one_in_the_records_parsed_at_the_barrier_after_it()
    {
        // Line 10 is in the first buffer's chunk, parsed by a lane; the last record, parsed at the SCHEMA after it by the
        // reading thread, is broken too: the earlier line is the one reported.
        var text = new StringBuilder();
        for (var i = 1; i <= 80_000; i++)
            text.Append(i is 10 or 80_000 ? """{"type":"RECORD","stream":"s","record":{"id":""" + "\n" : """{"type":"RECORD","stream":"s","record":{"id":1}}""" + "\n");
        text.Append("""{"type":"SCHEMA","stream":"t","schema":{"properties":{}},"key_properties":[]}""").Append('\n');
        var sink = new List<long>();
        using var lines = new SingerLineReader(new MemoryStream(Encoding.UTF8.GetBytes(text.ToString())));
        var gate = new object();
        var e = Assert.Throws<SingerProtocolException>(() =>
            new ParallelSingerReader([new Recorder(sink, [], gate), new Recorder(sink, [], gate)], new Recorder(sink, [], gate)).ReadAll(lines, CancellationToken.None));
        Assert.Equal(10, e.Line);
    }

    /// <summary>Keeps each record's raw line by line number, and the control messages' line numbers.</summary>
    private sealed class LineKeeper(Dictionary<long, string> records, List<long> controls, object gate, bool slow = false) : ISingerHandler
    {
        public void OnRecord(ReadOnlySpan<byte> streamUtf8, ref Utf8JsonReader record, ReadOnlySpan<byte> rawLine, long line)
        {
            record.Skip();
            // A slow lane: the reader runs ahead of it, so a chunk still being parsed must not be refilled.
            if (slow && line % 500 == 0) Thread.Sleep(1);
            var text = Encoding.UTF8.GetString(rawLine);
            lock (gate) records.Add(line, text);
        }
        public void OnSchema(string stream, JsonElement schema, IReadOnlyList<string> keyProperties, long line) => Control(line);
        public void OnState(SingerState state, long line) => Control(line);
        public void OnActivateVersion(string stream, long version, long line) => Control(line);
        public void OnUnknown(string type, long line) => Control(line);
        private void Control(long line)
        {
            lock (gate) controls.Add(line);
        }
    }

    /// <summary>Hands out the input a few bytes at a time, as a slow tap's pipe does.</summary>
    private sealed class TrickleStream(byte[] data, int seed) : MemoryStream(data)
    {
        private readonly Random _random = new(seed);
        public override int Read(byte[] buffer, int offset, int count) =>
            base.Read(buffer, offset, Math.Min(count, _random.Next(2) == 0 ? _random.Next(1, 8) : _random.Next(1, 300_000)));
    }

    [Theory]
    [InlineData(1, 0, false)]
    [InlineData(2, 0, false)]
    [InlineData(1, 1, false)]
    [InlineData(2, 2, false)]
    [InlineData(2, 3, true)]
    [InlineData(2, -1, true)]
    public void Every_line_arrives_whole_with_its_number_however_the_input_is_cut(int laneCount, int seed, bool slowLanes)
    {
        // Lines of every size (one of 5 MB, past the 2 MB blocks), CRLF endings, blank and whitespace lines, control
        // messages between records, and a last record without its newline.
        var random = new Random(Math.Abs(seed));
        var text = new StringBuilder();
        var expected = new Dictionary<long, string>();
        var expectedControls = new List<long>();
        long line = 0;
        for (var i = 0; i < 30_000; i++)
        {
            line++;
            var ending = i % 11 == 0 ? "\r\n" : "\n";
            if (i % 4001 == 0) { text.Append("""{"type":"ACTIVATE_VERSION","stream":"s","version":1}""").Append(ending); expectedControls.Add(line); continue; }
            if (i % 977 == 0) { text.Append(i % 2 == 0 ? "" : "  \t ").Append(ending); continue; }
            var pad = i == 12_345 ? 5_000_000 : random.Next(0, i % 50 == 0 ? 40_000 : 400);
            var record = $$$"""{"type":"RECORD","stream":"s","record":{"id":{{{i}}},"pad":"{{{new string('x', pad)}}}"}}""";
            text.Append(record).Append(i == 29_999 ? "" : ending);
            expected[line] = record;
        }
        var bytes = Encoding.UTF8.GetBytes(text.ToString());

        var records = new Dictionary<long, string>();
        var controls = new List<long>();
        var gate = new object();
        var laneHandlers = Enumerable.Range(0, laneCount).Select(_ => (ISingerHandler)new LineKeeper(records, controls, gate, slowLanes)).ToArray();
        // Seed -1: the whole input at once, as fast as memory gives it.
        using var lines = new SingerLineReader(seed < 0 ? new MemoryStream(bytes) : new TrickleStream(bytes, seed));
        new ParallelSingerReader(laneHandlers, new LineKeeper(records, controls, gate)).ReadAll(lines, CancellationToken.None);

        Assert.Equal(expected.Count, records.Count);
        foreach (var (number, record) in expected)
            Assert.True(records.TryGetValue(number, out var got) && got == record, $"line {number} differs or is missing");
        Assert.Equal(expectedControls, controls);
    }

    [Fact]
    public void A_line_longer_than_the_limit_is_refused_naming_its_line()
    {
        var text = "{\"type\":\"STATE\",\"value\":{}}\n" + """{"type":"RECORD","stream":"s","record":{"pad":" """ + new string('x', 9 << 20) + "\"}}\n";
        var gate = new object();
        var reader = new ParallelSingerReader([new LineKeeper([], [], gate), new LineKeeper([], [], gate)], new LineKeeper([], [], gate));
        using var lines = new SingerLineReader(new MemoryStream(Encoding.UTF8.GetBytes(text)), maxLineBytes: 8 << 20);
        var e = Assert.Throws<SingerProtocolException>(() => reader.ReadAll(lines, CancellationToken.None));
        Assert.Equal(2, e.Line);
        Assert.Contains("longer than 8 MB", e.Message);
    }

    /// <summary>
    /// The limit is a line's length exactly (its "\r\n" aside), whatever size the pooled buffer rounds to: a buffer of
    /// 2 MB let a line of up to 2 MB through a 1.5 MB limit.
    /// </summary>
    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    public void A_line_of_exactly_the_limit_is_read_and_one_byte_more_is_refused_naming_its_type_and_stream(string newline)
    {
        const int limit = 3 << 19; // 1.5 MB
        string Line(int length)
        {
            var envelope = """{"type":"RECORD","stream":"wide","record":{"pad":""";
            return envelope + new string('x', length - envelope.Length - 3) + "\"}}";
        }
        var text = Line(limit) + newline + Line(limit + 1) + newline;
        using var lines = new SingerLineReader(new MemoryStream(Encoding.UTF8.GetBytes(text)), initialBuffer: 1 << 16, maxLineBytes: limit);

        Assert.True(lines.TryReadLine(out var first));
        Assert.Equal(limit, first.Length);
        var e = Assert.Throws<SingerProtocolException>(() => lines.TryReadLine(out _));
        Assert.Equal(2, e.Line);
        Assert.Equal("wide", e.Stream);
        Assert.StartsWith($"line 2 (stream 'wide'): the RECORD line is longer than {limit} bytes", e.Message);
    }
}

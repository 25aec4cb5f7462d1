using System.Diagnostics;
using System.Text;

namespace DataSpoc.Pipe.Sources;

/// <summary>
/// A Singer tap run as a subprocess: <c>&lt;tap&gt; --config F [--state S] [--catalog C]</c>. stdout is the message
/// stream; stderr is pumped concurrently (a chatty tap never blocks) and its tail kept for the run log.
/// </summary>
public sealed class TapProcess : ISource
{
    private readonly IReadOnlyList<string> _command;
    private readonly Redactor _redactor;

    /// <param name="command">The tap command line, already split into words; the first is resolved on PATH.</param>
    /// <param name="redactor">Masks secrets in the logged command line and stderr tail.</param>
    public TapProcess(IReadOnlyList<string> command, Redactor redactor)
    {
        _command = command;
        _redactor = redactor;
    }

    public string DefaultName => Lake.LakePaths.SourceName(_command);

    /// <summary>
    /// Finds an executable as a shell would: <c>~/</c> expanded to the home folder, a path as given, a bare name on PATH.
    /// Every command that starts a tap (run, discovery, validate) resolves it here, so they agree on what a tap is.
    /// </summary>
    public static string Resolve(string executable)
    {
        executable = Config.PipeHome.ExpandHome(executable);
        if (executable.Contains('/'))
        {
            var full = Path.GetFullPath(executable);
            if (!File.Exists(full)) throw new TapNotFoundException(executable, $"tap '{executable}' does not exist");
            return full;
        }
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, executable);
            if (File.Exists(candidate)) return candidate;
        }
        // An interpreter (python3 tap.py) is no package a tap comes in: advising `pip install python3` would mislead.
        throw new TapNotFoundException(executable, IsInterpreter(executable)
            ? $"the tap's interpreter '{executable}' was not found on PATH ({path}); install {executable}, or write its full path " +
              "as the first word of source.tap"
            : $"tap '{executable}' was not found on PATH ({path}); install it (for a Python tap: pip install {executable}, " +
              "or pipx install it) or set source.tap to its full path");
    }

    /// <summary>
    /// The executable of a tap command line (<see cref="Resolve"/>), and, when that is an interpreter given a script
    /// (<c>python3 tap.py</c>), that the script exists: otherwise the interpreter would be the one blamed for not
    /// answering or for failing, while the script is what is missing. Every start of a tap goes through here.
    /// </summary>
    public static string ResolveCommand(IReadOnlyList<string> words)
    {
        if (words.Count == 0) throw new TapNotFoundException("", "source.tap is empty");
        var executable = Resolve(words[0]);
        // The first argument is the script unless it is an option (python3 -m module, bash -c '...').
        if (words.Count > 1 && IsInterpreter(Path.GetFileName(executable)) && !words[1].StartsWith('-'))
        {
            var script = Config.PipeHome.ExpandHome(words[1]);
            if (!File.Exists(script)) throw new TapNotFoundException(words[1], $"tap script '{words[1]}' does not exist");
        }
        return executable;
    }

    private static bool IsInterpreter(string name) =>
        System.Text.RegularExpressions.Regex.IsMatch(name, @"^(python[0-9.]*|pypy[0-9.]*|node|nodejs|deno|bun|bash|sh|dash|zsh|ksh|ruby|perl|php|pwsh|Rscript)$");

    /// <summary>
    /// How every tap process starts (a run, discovery, the capability probe): its command resolved, stdin, stdout and
    /// stderr redirected, and the tool's environment without the tool's own credentials
    /// (<see cref="Config.EnvironmentSecrets.RemoveToolCredentials"/>).
    /// </summary>
    public static ProcessStartInfo StartInfo(IReadOnlyList<string> words, IEnumerable<string> extraArguments)
    {
        var psi = new ProcessStartInfo(ResolveCommand(words))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in words.Skip(1).Concat(extraArguments)) psi.ArgumentList.Add(arg);
        Config.EnvironmentSecrets.RemoveToolCredentials(psi.Environment);
        return psi;
    }

    public Task<SourceRun> StartAsync(SourceInvocation invocation, CancellationToken cancellationToken)
    {
        var psi = StartInfo(_command, []);
        if (invocation.ConfigPath is not null) { psi.ArgumentList.Add("--config"); psi.ArgumentList.Add(invocation.ConfigPath); }
        if (invocation.StatePath is not null) { psi.ArgumentList.Add("--state"); psi.ArgumentList.Add(invocation.StatePath); }
        if (invocation.CatalogPath is not null)
            foreach (var flag in invocation.CatalogFlags)
            {
                psi.ArgumentList.Add(flag);
                psi.ArgumentList.Add(invocation.CatalogPath);
            }
        var command = _redactor.Redact(string.Join(' ', psi.ArgumentList.Prepend(_command[0]).Select(Quote)));
        var process = TapLaunch.Start(psi, _command[0]);
        // Before the tap can do anything: a run killed from here on leaves a tap the next run can find and stop.
        if (invocation.RunFolder is { } runFolder) TapRecord.Write(runFolder, process);
        process.StandardInput.Close();
        return Task.FromResult<SourceRun>(new Run(process, command, _redactor));
    }

    private static string Quote(string word) => word.Any(char.IsWhiteSpace) ? "'" + word.Replace("'", "'\\''") + "'" : word;

    private sealed class Run : SourceRun
    {
        private const int TailBytes = 16 * 1024;
        private const int TailChars = 4096;
        private readonly Process _process;
        private readonly string _command;
        private readonly Redactor _redactor;
        private readonly Task _stderrPump;
        private readonly char[] _tail = new char[TailBytes];
        private long _tailWritten;
        private readonly Lock _tailLock = new();

        public Run(Process process, string command, Redactor redactor)
        {
            _process = process;
            _command = command;
            _redactor = redactor;
            Output = process.StandardOutput.BaseStream;
            PipeCapacity.TryEnlarge(Output);
            _stderrPump = Task.Run(PumpStderr);
        }

        public override Stream Output { get; }
        public override string CommandForLog => _command;

        public override string StderrTail
        {
            get
            {
                lock (_tailLock)
                {
                    var n = (int)Math.Min(_tailWritten, TailBytes);
                    var start = (int)(_tailWritten % TailBytes);
                    var text = n < TailBytes ? new string(_tail, 0, n) : new string(_tail, start, TailBytes - start) + new string(_tail, 0, start);
                    var lines = text.Split('\n');
                    // A wrapped ring starts inside a line: that cut line is kept only when no whole line follows it (a last
                    // line of 16 KB and more, a `\r` progress bar never ended by a newline), so the tail is never empty.
                    var first = n < TailBytes || lines.Skip(1).All(string.IsNullOrWhiteSpace) ? 0 : 1;
                    // Keep whole lines only, at most the last 4 KB.
                    var sb = new StringBuilder();
                    for (var i = lines.Length - 1; i >= first && sb.Length < TailChars; i--)
                        sb.Insert(0, Shown(lines[i]) + (i < lines.Length - 1 ? "\n" : ""));
                    return _redactor.Redact(sb.ToString().TrimEnd());
                }
            }
        }

        /// <summary>
        /// A line longer than the tail keeps what a terminal shows of it, the last of its <c>\r</c>-separated parts (a
        /// progress bar's latest state), and of that at most its last 4 KB: the earlier lines still fit beside it.
        /// </summary>
        private static string Shown(string line)
        {
            if (line.Length <= TailChars) return line;
            var parts = line.Split('\r', StringSplitOptions.RemoveEmptyEntries);
            var last = parts.Length == 0 ? "" : parts[^1];
            return last.Length <= TailChars ? last : "..." + last[^TailChars..];
        }

        private async Task PumpStderr()
        {
            var buffer = new char[4096];
            var reader = _process.StandardError;
            int n;
            while ((n = await reader.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            {
                lock (_tailLock)
                {
                    for (var i = 0; i < n; i++) _tail[(_tailWritten + i) % TailBytes] = buffer[i];
                    _tailWritten += n;
                }
            }
        }

        public override async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
        {
            await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            await _stderrPump.ConfigureAwait(false);
            return _process.ExitCode;
        }

        internal override bool HasExited
        {
            get
            {
                try { return _process.HasExited; }
                catch (InvalidOperationException) { return true; }
            }
        }

        internal override IReadOnlyList<string> StopProcessesHoldingOutput() =>
            PipeHolders.Stop([Output, _process.StandardError.BaseStream], except: _process.Id);

        public override void Kill() => TapLaunch.Kill(_process);

        public override async ValueTask DisposeAsync()
        {
            Kill();
            try { await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false); }
            catch (TimeoutException) { }
            try { await _stderrPump.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false); }
            catch (Exception) { }
            _process.Dispose();
        }
    }
}

/// <summary>The tap cannot be found or started.</summary>
public sealed class TapNotFoundException(string tap, string message) : PipeException(message)
{
    public override PipeErrorKind Kind => PipeErrorKind.Usage;
    public string Tap { get; } = tap;
}

using System.Runtime.Versioning;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Tests.Support;
using Xunit.Abstractions;

namespace DataSpoc.Pipe.Tests.Configuration;

[UnsupportedOSPlatform("windows")]
public sealed class DotEnvFileTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dsp-dotenv-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string EnvPath => Path.Combine(_dir, ".env");

    private string WritePrivate(string text)
    {
        File.WriteAllText(EnvPath, text);
        File.SetUnixFileMode(EnvPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return EnvPath;
    }

    [Fact]
    public void Reads_bare_quoted_exported_and_commented_assignments()
    {
        var env = DotEnvFile.Parse("""
            # database
            PGPASSWORD=s3cret-pw
            export API_TOKEN = 'abc # not a comment'
              SPACED=  hello world   # trailing comment
            HASH_INSIDE=a#b
            DOUBLE="line1\nline2 \"quoted\" back\\slash tab\t$HOME"
            SINGLE='no \n escapes here'
            MULTI="first
            second"
            EMPTY=
            EMPTY_QUOTED=""
            DUP=one
            DUP=two
            """.Replace("\n", "\r\n", StringComparison.Ordinal), "/h/.env").Values;

        Assert.Equal("s3cret-pw", env["PGPASSWORD"]);
        Assert.Equal("abc # not a comment", env["API_TOKEN"]);
        Assert.Equal("hello world", env["SPACED"]);
        Assert.Equal("a#b", env["HASH_INSIDE"]);
        Assert.Equal("line1\nline2 \"quoted\" back\\slash tab\t$HOME", env["DOUBLE"]);
        Assert.Equal("no \\n escapes here", env["SINGLE"]);
        Assert.Equal("first\r\nsecond", env["MULTI"]);
        Assert.Equal("", env["EMPTY"]);
        Assert.Equal("", env["EMPTY_QUOTED"]);
        Assert.Equal("two", env["DUP"]);
        Assert.Equal(10, env.Count);
    }

    [Theory]
    [InlineData("A=1\nPGPASSWORD hunter22\n", 2, "PGPASSWORD: expected '=' after the name")]
    [InlineData("my-key=hunter22\n", 1, "expected KEY=value with KEY made of letters, digits and '_'")]
    [InlineData("A=1\n\nTOKEN='hunter22\n", 3, "TOKEN: the single-quoted value is not closed")]
    [InlineData("TOKEN=\"hunter22\nB=2\n", 1, "TOKEN: the double-quoted value is not closed")]
    [InlineData("TOKEN='hunter22' trailing\n", 1, "TOKEN: unexpected text after the closing quote")]
    [InlineData("=hunter22\n", 1, "expected KEY=value")]
    public void A_syntax_error_names_the_file_and_line_but_never_the_value(string text, int line, string reason)
    {
        var e = Assert.Throws<ConfigException>(() => DotEnvFile.Parse(text, "/h/.env"));
        Assert.Equal($"/h/.env:{line}: {reason}", e.Message);
        Assert.DoesNotContain("hunter22", e.Message);
    }

    [Fact]
    public void A_group_or_world_readable_file_is_refused_with_the_fix()
    {
        WritePrivate("PGPASSWORD=hunter22\n");
        File.SetUnixFileMode(EnvPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        var e = Assert.Throws<ConfigException>(() => DotEnvFile.Read(EnvPath));
        Assert.Equal($"{EnvPath}: holds secrets but group or others may read it (mode 0640): refused; fix it with: chmod 600 {EnvPath}", e.Message);

        File.SetUnixFileMode(EnvPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherWrite);
        Assert.Contains("group or others may write it (mode 0602)", Assert.Throws<ConfigException>(() => DotEnvFile.Read(EnvPath)).Message);

        File.SetUnixFileMode(EnvPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Equal("hunter22", DotEnvFile.Read(EnvPath).Values["PGPASSWORD"]);
    }

    [Fact]
    public void A_file_owned_by_another_user_is_refused()
    {
        Assert.True(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "needs root on Linux to chown the file to another user (as in CI)");
        WritePrivate("PGPASSWORD=hunter22\n");
        Chown("65534", EnvPath);
        var e = Assert.Throws<ConfigException>(() => DotEnvFile.Read(EnvPath));
        Assert.StartsWith($"{EnvPath}: holds secrets but belongs to another user (uid 65534), not to you (uid 0): refused; make it yours with: chown 0 {EnvPath} && chmod 600 {EnvPath}", e.Message);
    }

    [Fact]
    public void A_missing_file_is_empty_and_create_empty_makes_a_private_file_once()
    {
        Assert.Empty(DotEnvFile.Read(EnvPath).Values);
        Assert.True(DotEnvFile.CreateEmpty(EnvPath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(EnvPath));
        File.WriteAllText(EnvPath, "KEPT=1\n");
        Assert.False(DotEnvFile.CreateEmpty(EnvPath));
        Assert.Equal("KEPT=1\n", File.ReadAllText(EnvPath));
    }

    [Fact]
    public void Set_replaces_a_key_in_place_appends_new_ones_and_keeps_every_other_line()
    {
        WritePrivate("# my secrets\nexport PGPASSWORD='old'  # rotated yearly\nOTHER=\"x y\"\nNO_NEWLINE=1");
        DotEnvFile.Set(EnvPath, new Dictionary<string, string> { ["PGPASSWORD"] = "new pw", ["API_TOKEN"] = "t0k3n" });
        Assert.Equal("# my secrets\nPGPASSWORD='new pw'\nOTHER=\"x y\"\nNO_NEWLINE=1\nAPI_TOKEN=t0k3n\n", File.ReadAllText(EnvPath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(EnvPath));
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public void Set_refuses_to_write_secrets_into_a_file_others_can_read()
    {
        WritePrivate("A=1\n");
        File.SetUnixFileMode(EnvPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        Assert.Throws<ConfigException>(() => DotEnvFile.Set(EnvPath, new Dictionary<string, string> { ["B"] = "2" }));
        Assert.Equal("A=1\n", File.ReadAllText(EnvPath));
    }

    [Fact]
    public void Any_value_written_by_set_reads_back_unchanged()
    {
        var seed = FuzzSeed.FromEnvironment();
        output.WriteLine($"seed {seed} (replay with DATASPOC_FUZZ_SEED={seed})");
        var random = new Random(seed);
        const string alphabet = "aZ09_-./:@+,=%^~ \t\n\r'\"\\#$`{}!é€😀";
        for (var round = 0; round < 200; round++)
        {
            var values = new Dictionary<string, string>();
            for (var k = 0; k < random.Next(1, 5); k++)
            {
                var chars = Enumerable.Range(0, random.Next(0, 12)).Select(_ => alphabet[random.Next(alphabet.Length)]);
                // Surrogate pairs are picked as halves above; keep only well-formed text, as a secret would be.
                var value = new string(chars.Where(c => !char.IsSurrogate(c)).ToArray());
                values["K" + k] = value;
            }
            if (File.Exists(EnvPath)) File.Delete(EnvPath);
            DotEnvFile.Set(EnvPath, values);
            var read = DotEnvFile.Read(EnvPath).Values;
            foreach (var (key, value) in values)
                Assert.True(read.TryGetValue(key, out var back) && back == value,
                    $"seed {seed} round {round}: {key} wrote {Escape(value)} read {Escape(back ?? "<missing>")}\n{Escape(File.ReadAllText(EnvPath))}");
        }
    }

    private static string Escape(string s) => System.Text.Json.JsonSerializer.Serialize(s);

    private static void Chown(string owner, string path)
    {
        using var process = System.Diagnostics.Process.Start("chown", [owner, path])!;
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }
}

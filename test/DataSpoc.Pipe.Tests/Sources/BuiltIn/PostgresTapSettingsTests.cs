using System.Text.Json.Nodes;
using DataSpoc.Pipe.Sources.BuiltIn;
using Npgsql;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources.BuiltIn;

/// <summary>
/// The connection the postgres tap builds from its config. GSS encryption is off unless asked for: Npgsql's default
/// (prefer) makes .NET's GSSAPI shim print "Error: libgssapi_krb5.so.2: cannot open shared object file" on every
/// connection where Kerberos is not installed, as in the container image (this machine has it, so the message itself
/// cannot be seen here).
/// </summary>
public sealed class PostgresTapSettingsTests
{
    private static JsonObject Config(string? gssencmode = null)
    {
        var config = new JsonObject { ["host"] = "db", ["user"] = "u", ["password"] = "pw", ["dbname"] = "shop" };
        if (gssencmode is not null) config["gssencmode"] = gssencmode;
        return config;
    }

    private static NpgsqlConnectionStringBuilder Connection(JsonObject config) => new(PostgresTap.Settings.From(config).ConnectionString);

    [Fact]
    public void Gss_encryption_is_disabled_by_default_so_no_kerberos_library_is_probed()
    {
        var settings = PostgresTap.Settings.From(Config());
        Assert.Equal(GssEncryptionMode.Disable, new NpgsqlConnectionStringBuilder(settings.ConnectionString).GssEncryptionMode);
        // libpq keeps its own default (it links GSSAPI itself and prints nothing; a libpq before 12 refuses the keyword).
        Assert.DoesNotContain(settings.LibpqKeywords!, k => k.Key == "gssencmode");
    }

    [Theory]
    [InlineData("prefer", GssEncryptionMode.Prefer)]
    [InlineData("Require", GssEncryptionMode.Require)]
    [InlineData("disable", GssEncryptionMode.Disable)]
    public void An_explicit_gssencmode_wins_for_npgsql_and_libpq(string value, GssEncryptionMode expected)
    {
        var settings = PostgresTap.Settings.From(Config(value));
        Assert.Equal(expected, new NpgsqlConnectionStringBuilder(settings.ConnectionString).GssEncryptionMode);
        Assert.Contains(settings.LibpqKeywords!, k => k.Key == "gssencmode" && k.Value == value.ToLowerInvariant());
    }

    [Fact]
    public void An_unknown_gssencmode_is_refused_naming_the_key_and_the_choices()
    {
        var e = Assert.Throws<TapException>(() => Connection(Config("kerberos")));
        Assert.Equal("postgres tap: config key 'gssencmode' must be one of disable, prefer, require", e.Message);
    }
}

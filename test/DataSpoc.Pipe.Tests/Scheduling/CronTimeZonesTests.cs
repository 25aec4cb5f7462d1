using System.Runtime.Versioning;
using DataSpoc.Pipe.Scheduling;

namespace DataSpoc.Pipe.Tests.Scheduling;

/// <summary>
/// The machine's zone is the one <c>/etc/localtime</c> holds, as cron reads it; each test gives <see cref="CronTimeZones.FindMachineZone"/>
/// an <c>/etc</c> of its own (the machine's is never touched) and the machine's zone database.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class CronTimeZonesTests : IDisposable
{
    private const string ZoneInfo = "/usr/share/zoneinfo";
    private readonly string _etc = Directory.CreateTempSubdirectory("dsp-etc-").FullName;

    public void Dispose() => Directory.Delete(_etc, recursive: true);

    private string Localtime => Path.Combine(_etc, "localtime");

    private string Machine() => CronTimeZones.FindMachineZone(_etc, ZoneInfo).Id;

    [Fact]
    public void A_copied_localtime_is_its_zone_by_canonical_name_not_an_alias_nor_the_callers_TZ()
    {
        // Alpine and many images copy the zone's file and have no /etc/timezone. Europe/Berlin's bytes are also those of
        // aliases (Atlantic/Jan_Mayen, Arctic/Longyearbyen): the canonical name is the one named.
        File.Copy(Path.Combine(ZoneInfo, "Europe", "Berlin"), Localtime);
        Assert.Equal("Europe/Berlin", Machine());
        File.Copy(Path.Combine(ZoneInfo, "Asia", "Kathmandu"), Localtime, overwrite: true);
        Assert.Equal("Asia/Kathmandu", Machine());
    }

    [Fact]
    public void The_copied_files_bytes_win_over_a_stale_etc_timezone_which_names_the_zone_only_when_they_match()
    {
        File.Copy(Path.Combine(ZoneInfo, "Asia", "Tokyo"), Localtime);
        File.WriteAllText(Path.Combine(_etc, "timezone"), "Europe/Berlin\n");
        Assert.Equal("Asia/Tokyo", Machine());
        // An alias the admin chose and whose bytes are the file's is kept.
        File.Copy(Path.Combine(ZoneInfo, "Europe", "Berlin"), Localtime, overwrite: true);
        File.WriteAllText(Path.Combine(_etc, "timezone"), "Europe/Oslo\n");
        Assert.Equal(File.ReadAllBytes(Path.Combine(ZoneInfo, "Europe", "Oslo")).SequenceEqual(File.ReadAllBytes(Localtime)) ? "Europe/Oslo" : "Europe/Berlin", Machine());
    }

    [Fact]
    public void A_linked_localtime_is_the_zone_it_links_to_and_none_is_UTC()
    {
        Assert.Same(TimeZoneInfo.Utc, CronTimeZones.FindMachineZone(_etc, ZoneInfo));
        File.CreateSymbolicLink(Localtime, Path.Combine(ZoneInfo, "America", "Sao_Paulo"));
        Assert.Equal("America/Sao_Paulo", Machine());
    }
}

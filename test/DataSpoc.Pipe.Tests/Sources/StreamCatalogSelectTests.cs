using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Sources;
using Xunit;

namespace DataSpoc.Pipe.Tests.Sources;

/// <summary><c>source.select</c> written into a catalog (<see cref="StreamCatalog.Configure"/>).</summary>
public sealed class StreamCatalogSelectTests
{
    private static JsonObject Catalog() => StreamCatalog.Parse("""
        {"streams": [{"tap_stream_id": "public-customers", "stream": "customers",
          "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"}, "updated_at": {"type": "string"}}},
          "metadata": [
            {"breadcrumb": [], "metadata": {"table-key-properties": ["id"]}},
            {"breadcrumb": ["properties", "id"], "metadata": {"inclusion": "automatic"}},
            {"breadcrumb": ["properties", "name"], "metadata": {"inclusion": "available"}},
            {"breadcrumb": ["properties", "email"], "metadata": {"inclusion": "available"}},
            {"breadcrumb": ["properties", "updated_at"], "metadata": {"inclusion": "available"}}]}]}
        """, "test");

    private static JsonObject Configured(string method)
    {
        var catalog = StreamCatalog.Select(Catalog(), ["public-customers"]);
        StreamCatalog.Configure(catalog, new SourceDefinition
        {
            Tap = "tap-x",
            Replication = new Dictionary<string, StreamReplication> { ["public-customers"] = new(method, method == "INCREMENTAL" ? "updated_at" : null) },
            Select = new Dictionary<string, IReadOnlyList<string>> { ["public-customers"] = ["name"] },
        }, fullRefresh: false);
        return catalog;
    }

    private static (List<string> Properties, Dictionary<string, bool> Selected) Columns(JsonObject catalog)
    {
        var stream = catalog["streams"]![0]!;
        var properties = stream["schema"]!["properties"]!.AsObject().Select(p => p.Key).ToList();
        var selected = stream["metadata"]!.AsArray().Where(m => m!["breadcrumb"]!.AsArray().Count == 2)
            .ToDictionary(m => (string)m!["breadcrumb"]![1]!, m => (bool)m!["metadata"]!["selected"]!);
        return (properties, selected);
    }

    [Fact]
    public void An_incremental_stream_keeps_its_replication_key_selected_besides_the_listed_and_automatic_columns()
    {
        // The tap orders by the replication key and bookmarks its last value: a select that leaves it out would break the sync.
        var (properties, selected) = Columns(Configured("INCREMENTAL"));
        Assert.Equal(["id", "name", "updated_at"], properties);
        Assert.Equal(new Dictionary<string, bool> { ["id"] = true, ["name"] = true, ["email"] = false, ["updated_at"] = true }, selected);
    }

    [Fact]
    public void A_full_table_stream_drops_every_column_it_does_not_list()
    {
        var (properties, selected) = Columns(Configured("FULL_TABLE"));
        Assert.Equal(["id", "name"], properties);
        Assert.Equal(new Dictionary<string, bool> { ["id"] = true, ["name"] = true, ["email"] = false, ["updated_at"] = false }, selected);
    }
}

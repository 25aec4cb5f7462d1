using System.Text.Json.Nodes;
using DataSpoc.Pipe.Config;
using DataSpoc.Pipe.Sources;

namespace DataSpoc.Pipe.Cli.Tests.Sources;

public sealed class StreamCatalogTests
{
    private static JsonObject Catalog() => StreamCatalog.Parse("""
        {"streams": [
          {"tap_stream_id": "public-orders", "stream": "orders", "key_properties": ["id"],
           "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "secret": {"type": "string"}}},
           "metadata": [{"breadcrumb": [], "metadata": {"inclusion": "available"}},
                        {"breadcrumb": ["properties", "id"], "metadata": {"inclusion": "automatic"}},
                        {"breadcrumb": ["properties", "secret"], "metadata": {"inclusion": "unsupported"}}]},
          {"tap_stream_id": "public-customers", "stream": "customers",
           "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}
        ]}
        """, "test");

    [Fact]
    public void Selecting_marks_chosen_streams_and_their_columns_and_deselects_the_rest()
    {
        var selected = StreamCatalog.Select(Catalog(), ["orders"]);
        var orders = selected["streams"]![0]!;
        var customers = selected["streams"]![1]!;
        Assert.True(orders["metadata"]![0]!["metadata"]!["selected"]!.GetValue<bool>());
        Assert.True(orders["selected"]!.GetValue<bool>());
        Assert.True(orders["schema"]!["selected"]!.GetValue<bool>());
        Assert.True(orders["metadata"]![1]!["metadata"]!["selected"]!.GetValue<bool>());
        Assert.Null(orders["metadata"]![2]!["metadata"]!["selected"]);
        // A stream without metadata gets a breadcrumb-[] entry saying it is not selected.
        Assert.False(customers["metadata"]![0]!["metadata"]!["selected"]!.GetValue<bool>());
        Assert.Equal([true, false], StreamCatalog.List(selected).Select(e => e.Selected));
    }

    [Fact]
    public void Streams_can_be_named_by_tap_stream_id_and_the_input_is_not_changed()
    {
        var catalog = Catalog();
        var selected = StreamCatalog.Select(catalog, ["public-customers"]);
        Assert.Equal([false, true], StreamCatalog.List(selected).Select(e => e.Selected));
        Assert.Equal([false, false], StreamCatalog.List(catalog).Select(e => e.Selected));
    }

    [Fact]
    public void An_unknown_stream_is_an_error_listing_the_streams_the_tap_has()
    {
        var e = Assert.Throws<ConfigException>(() => StreamCatalog.Select(Catalog(), ["orders", "invoices"], "/home/p.yaml"));
        Assert.Equal("source.streams", e.Key);
        Assert.Contains("'invoices' not in the tap's catalog; it has: public-orders (stream orders), public-customers (stream customers)", e.Message);
    }

    [Fact]
    public void A_catalog_without_streams_is_rejected()
    {
        Assert.Throws<ConfigException>(() => StreamCatalog.Parse("""{"tables": []}""", "x"));
        Assert.Throws<ConfigException>(() => StreamCatalog.Parse("not json", "x"));
    }
}

using DataSpoc.Pipe.Storage;

namespace DataSpoc.Pipe.Cli.Infrastructure;

/// <summary>The object-store factory with every backend the CLI ships: file://, and s3://, gs://, az:// from DataSpoc.Pipe.Cloud.</summary>
internal static class Stores
{
    public static ObjectStoreFactory Create()
    {
        var factory = new ObjectStoreFactory();
        DataSpoc.Pipe.Cloud.CloudStores.Register(factory);
        return factory;
    }
}

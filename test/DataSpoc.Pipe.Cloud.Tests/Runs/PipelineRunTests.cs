namespace DataSpoc.Pipe.Cloud.Tests.Runs;

[Collection(S3rverCollection.Name)]
public sealed class S3PipelineRunTests(CloudServers servers) : PipelineRunContract
{
    protected override StoreTarget Target { get; } = new S3Target(servers);
    protected override bool ServerCommitsPutsAtomically => false;
}

[Collection(AzuriteCollection.Name)]
public sealed class AzurePipelineRunTests(CloudServers servers) : PipelineRunContract
{
    protected override StoreTarget Target { get; } = new AzureTarget(servers);
}

[Collection(GcsStandInCollection.Name)]
public sealed class GcsPipelineRunTests(CloudServers servers) : PipelineRunContract
{
    protected override StoreTarget Target { get; } = new GcsTarget(servers);
}

[Collection(AzuriteCollection.Name)]
public sealed class AzurePipelineConcurrencyTests(CloudServers servers) : PipelineConcurrencyContract
{
    protected override StoreTarget Target { get; } = new AzureTarget(servers);
}

[Collection(GcsStandInCollection.Name)]
public sealed class GcsPipelineConcurrencyTests(CloudServers servers) : PipelineConcurrencyContract
{
    protected override StoreTarget Target { get; } = new GcsTarget(servers);
}

public sealed class LocalPipelineConcurrencyTests : PipelineConcurrencyContract
{
    protected override StoreTarget Target { get; } = new LocalTarget();
}

public sealed class LocalSharedTableTests : SharedTableContract
{
    protected override StoreTarget Target { get; } = new LocalTarget();
}

// Not on s3rver: it serves a GET racing a PUT of the same object from a half-written file (the run then fails with
// "Parameter 'hex'"), and it ignores conditional writes, so it is single-writer only. S3 is covered by Ceph RGW.

[Collection(AzuriteCollection.Name)]
public sealed class AzureSharedTableTests(CloudServers servers) : SharedTableContract
{
    protected override StoreTarget Target { get; } = new AzureTarget(servers);
}

[Collection(GcsStandInCollection.Name)]
public sealed class GcsSharedTableTests(CloudServers servers) : SharedTableContract
{
    protected override StoreTarget Target { get; } = new GcsTarget(servers);
}

public sealed class LocalLockTests : LockContract
{
    protected override StoreTarget Target { get; } = new LocalTarget();
}

[Collection(AzuriteCollection.Name)]
public sealed class AzureLockTests(CloudServers servers) : LockContract
{
    protected override StoreTarget Target { get; } = new AzureTarget(servers);
}

[Collection(GcsStandInCollection.Name)]
public sealed class GcsLockTests(CloudServers servers) : LockContract
{
    protected override StoreTarget Target { get; } = new GcsTarget(servers);
}

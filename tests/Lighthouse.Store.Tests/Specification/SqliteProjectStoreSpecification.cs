using Lighthouse.Store;
using Lighthouse.Store.Testing;

namespace Lighthouse.Store.Tests.Specification;

/// <summary>The store specification, run against the SQLite store through its factory.</summary>
public sealed class SqliteProjectStoreSpecification : ProjectStoreSpecification
{
    private static readonly IProjectStoreFactory Factory = SqliteProjectStoreFactory.Instance;

    protected override IProjectStore Open(string projectDir, StoreOptions options) => Factory.Open(projectDir, options);

    protected override IProjectStore OpenReadOnly(string projectDir, StoreOptions options) => Factory.OpenReadOnly(projectDir, options);

    protected override bool Exists(string projectDir) => Factory.Exists(projectDir);

    protected override void AlterStoredEvent(string projectDir, long seq) =>
        StoreTampering.AlterEvent(projectDir, seq, e => e with { Agent = "mallory" });
}

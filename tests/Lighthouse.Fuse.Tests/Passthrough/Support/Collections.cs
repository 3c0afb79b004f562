namespace Lighthouse.Fuse.Tests.Passthrough.Support;

// One collection (so one mount, created once and shared by its tests) per test class. xunit runs
// different collections in parallel (up to one per core), each against its own daemon and directories.

[CollectionDefinition(Name)]
public sealed class FileOperationsCollection : ICollectionFixture<DefaultMount> { public const string Name = "Passthrough.FileOperations"; }

[CollectionDefinition(Name)]
public sealed class FileOperationsNoCacheCollection : ICollectionFixture<NoCacheMount> { public const string Name = "Passthrough.FileOperations.NoCache"; }

[CollectionDefinition(Name)]
public sealed class DirectoriesCollection : ICollectionFixture<DefaultMount> { public const string Name = "Passthrough.Directories"; }

[CollectionDefinition(Name)]
public sealed class XattrCollection : ICollectionFixture<DefaultMount> { public const string Name = "Passthrough.Xattr"; }

[CollectionDefinition(Name)]
public sealed class ErrorPathsCollection : ICollectionFixture<DefaultMount> { public const string Name = "Passthrough.ErrorPaths"; }

[CollectionDefinition(Name)]
public sealed class ConcurrencyCollection : ICollectionFixture<DefaultMount> { public const string Name = "Passthrough.Concurrency"; }

[CollectionDefinition(Name)]
public sealed class RandomizedCollection : ICollectionFixture<DefaultMount> { public const string Name = "Passthrough.Randomized"; }

[CollectionDefinition(Name)]
public sealed class RandomizedNoCacheCollection : ICollectionFixture<NoCacheMount> { public const string Name = "Passthrough.Randomized.NoCache"; }

[CollectionDefinition(Name)]
public sealed class RealToolsCollection : ICollectionFixture<DefaultMount> { public const string Name = "Passthrough.RealTools"; }

[CollectionDefinition(Name)]
public sealed class PermissionsCollection : ICollectionFixture<PermissionMount> { public const string Name = "Passthrough.Permissions"; }

namespace Lighthouse.Project.Policy;

/// <summary>What a request does, as far as the policy cares. A rule's <c>ops</c> list names these in lower case.</summary>
public enum PolicyOperation
{
    /// <summary>Opening for reading, reading, following a symbolic link's target, looking a name up.</summary>
    Read,
    /// <summary>Listing a directory.</summary>
    List,
    /// <summary>Writing to or truncating an existing file.</summary>
    Write,
    /// <summary>Making a new file, directory, link or node.</summary>
    Create,
    /// <summary>Removing a file or directory.</summary>
    Delete,
    /// <summary>Renaming (checked on both the source and the target path).</summary>
    Rename,
    /// <summary>Attribute changes that move no data: chmod, chown, utimens, extended attributes.</summary>
    Meta,
}

/// <summary>Facts about operations that callers and the engine share.</summary>
public static class PolicyOperations
{
    /// <summary>Every operation, in enum order: what a rule without <c>ops</c> covers.</summary>
    public static IReadOnlyList<PolicyOperation> All { get; } = Enum.GetValues<PolicyOperation>();

    /// <summary>True for the operations that change the project: the ones a read-only rule refuses.</summary>
    public static bool IsMutation(this PolicyOperation operation) =>
        operation is not (PolicyOperation.Read or PolicyOperation.List);
}

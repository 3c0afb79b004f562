namespace Lighthouse.Record.Tests.Workload;

/// <summary>A name in a directory reached by walking from a workload's root one component at a time: the
/// directory's descriptor (owned unless it is the root's) and its path, for messages.</summary>
internal sealed class Place : IDisposable
{
    public Place(int directory, string directoryPath, bool ownsDirectory)
    {
        Directory = directory; DirectoryPath = directoryPath; _owns = ownsDirectory;
    }

    private bool _owns;
    public int Directory { get; private set; }
    public string DirectoryPath { get; private set; }
    public string Name { get; set; } = "";
    public string Path => DirectoryPath + "/" + Name;
    public int Depth { get; private set; }

    /// <summary>The place as a path from /proc/self/fd, for calls that take no directory descriptor (truncate,
    /// lsetxattr): short whatever the depth, as the kernel follows the descriptor's link.</summary>
    public string ProcPath => $"/proc/self/fd/{Directory}/{Name}";

    /// <summary>Goes down into the subdirectory <paramref name="name"/>, open at <paramref name="fd"/>.</summary>
    public void Enter(int fd, string name)
    {
        if (_owns) Libc.Close(Directory);
        Directory = fd; _owns = true;
        DirectoryPath += "/" + name;
        Depth++;
    }

    public void Dispose()
    {
        if (_owns) Libc.Close(Directory);
        _owns = false;
    }
}

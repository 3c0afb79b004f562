using Lighthouse.Mount.Testing;

namespace Lighthouse.Record.Tests.Checking;

/// <summary>What <see cref="RecordCheck.Run"/> found: the recorder when the comparison started and ended, and the tree's differences.</summary>
public sealed record RecordCheckResult(RecorderState Before, RecorderState After, TreeReport Tree)
{
    /// <summary>Something was recorded while the trees were being compared: the comparison may be of a moving target.</summary>
    public bool RecordMoved => After.LastSeq != Before.LastSeq;
    public bool Clean => Tree.Clean && !RecordMoved;

    public string Describe(int maxLines = 60) =>
        $"recorder idle: {Before}\n" +
        (RecordMoved ? $"THE RECORD MOVED DURING THE CHECK: {After}\n" : "") +
        Tree.Describe(maxLines);

    public override string ToString() => Describe();
}

/// <summary>
/// The product's promise on a running mount: once the recorder is idle, history/ at the last event is exactly
/// current/. "Idle" is what the control socket's status tells (<see cref="MountControl.WaitUntilIdle"/>).
/// </summary>
public static class RecordCheck
{
    public static RecordCheckResult Run(string projectDir, string mountPoint, TreeChecker? checker = null)
    {
        var before = MountControl.WaitUntilIdle(projectDir);
        var tree = (checker ?? new TreeChecker()).Compare(Path.Combine(mountPoint, "current"),
            Path.Combine(mountPoint, "history", $"@{before.LastSeq}"));
        return new RecordCheckResult(before, MountControl.Status(projectDir), tree);
    }

    public static RecordCheckResult Run(LighthouseMountFixture mount, TreeChecker? checker = null) =>
        Run(mount.Project, mount.MountPoint, checker);
}

using Lighthouse.Project.History;
using System.Security.Cryptography;
using System.Text;
using Lighthouse.Store;

namespace Lighthouse.Project.Restore;

/// <summary>
/// Compares a path of the tree as of an event with what a directory on disk holds now, and lists what
/// bringing it back takes. Reads only: the disk is never changed here, so a plan is also the dry run.
/// </summary>
public static class RestorePlanner
{
    private static readonly EnumerationOptions AllEntries = new() { AttributesToSkip = 0, ReturnSpecialDirectories = false, IgnoreInaccessible = false };

    /// <summary>
    /// Plans the restore of <paramref name="path"/> (a store path) under <paramref name="root"/> (the project
    /// directory, or the mount's <c>current/</c>) to what it was as of event <paramref name="seq"/>.
    /// Null if the path did not exist then. <paramref name="progress"/> counts the entries compared.
    /// </summary>
    public static RestorePlan? Plan(IProjectStore history, string root, string path, long seq, IProgress<RestoreProgress>? progress = null)
    {
        path = StorePath.Normalize(path);
        var at = StorePoint.AtEvent(seq);
        var oldRoot = history.LookupPath(path, at);
        if (oldRoot is null) return null;
        var walk = new Walk(history, root, at, progress);
        walk.MissingParents(path);
        walk.Node(path, oldRoot.Kind);
        walk.Steps.AddRange(walk.Removals);
        return new RestorePlan(path, seq, walk.Steps);
    }

    /// <summary>
    /// The directory to reconcile before a restore that records straight into the store (no mount): the
    /// nearest existing ancestor of <paramref name="path"/>'s parent, so the index matches the disk it compares with.
    /// </summary>
    public static string ReconcileScope(string root, string path)
    {
        var dir = StorePath.Parent(path);
        while (dir.Length > 0 && !Directory.Exists(Abs(root, dir))) dir = StorePath.Parent(dir);
        return dir;
    }

    internal static string Abs(string root, string path) => path.Length == 0 ? root : Path.Combine(root, path);

    /// <summary>"rwxr-xr-x"-style permission bits, for reasons.</summary>
    internal static string ModeText(int mode)
    {
        Span<char> s = stackalloc char[9];
        const string rwx = "rwxrwxrwx";
        for (var i = 0; i < 9; i++) s[i] = (mode & (1 << (8 - i))) != 0 ? rwx[i] : '-';
        return new string(s);
    }

    private sealed class Walk(IProjectStore history, string root, StorePoint at, IProgress<RestoreProgress>? progress)
    {
        public readonly List<RestoreStep> Steps = [];
        // Removals of what did not exist then go last, after everything written (children first).
        public readonly List<RestoreStep> Removals = [];
        private int _compared;

        /// <summary>Parents that are missing now are created with their old modes (whatever is in their way goes first).</summary>
        public void MissingParents(string path)
        {
            var missing = new Stack<string>();
            for (var p = StorePath.Parent(path); p.Length > 0 && path.Length > 0; p = StorePath.Parent(p))
            {
                if (NodeAttributes.Of(Abs(root, p)) is { Kind: FileKind.Directory }) break;
                missing.Push(p);
            }
            while (missing.Count > 0)
            {
                var p = missing.Pop();
                if (NodeAttributes.Of(Abs(root, p)) is { } cur) RemoveTree(p, cur.Kind, Steps, "in the way of a directory");
                Steps.Add(new RestoreStep(RestoreAction.Mkdir, p, FileKind.Directory, history.Attributes(p, at), "missing parent"));
            }
        }

        public void Node(string path, FileKind oldKind)
        {
            progress?.Report(new RestoreProgress(++_compared, 0, path));
            var old = history.Attributes(path, at);
            var abs = Abs(root, path);
            var cur = NodeAttributes.Of(abs);
            // A special file recorded before its exact kind was kept (Other) is taken for the one there now.
            if (cur is not null && cur.Kind != oldKind && !(oldKind == FileKind.Other && cur.Kind > FileKind.Other))
            {
                RemoveTree(path, cur.Kind, Steps, $"was a {oldKind.ToString().ToLowerInvariant()}");
                cur = null;
            }
            if (oldKind == FileKind.Directory)
            {
                if (cur is null) Steps.Add(new RestoreStep(RestoreAction.Mkdir, path, FileKind.Directory, old, ""));
                else if (ModeDiffers(cur, old)) Steps.Add(new RestoreStep(RestoreAction.Chmod, path, FileKind.Directory, old, ModeReason(cur, old)));
                var children = history.List(path, at);
                var names = new HashSet<string>(children.Select(c => c.Name), StringComparer.Ordinal);
                foreach (var child in children)
                    Node(StorePath.Combine(path, child.Name), child.Kind);
                if (cur is null) return;
                // What is in the directory now and was not then goes.
                foreach (var entry in new DirectoryInfo(abs).EnumerateFileSystemInfos("*", AllEntries))
                {
                    if (path.Length == 0 && entry.Name == StoreConstants.StateDirName) continue;
                    if (names.Contains(entry.Name)) continue;
                    if (NodeAttributes.Of(entry.FullName) is { } st)
                        RemoveTree(StorePath.Combine(path, entry.Name), st.Kind, Removals, "did not exist then");
                }
                return;
            }
            if (oldKind is FileKind.File or FileKind.Symlink)
            {
                if (cur is null) Steps.Add(new RestoreStep(RestoreAction.Create, path, oldKind, old, ""));
                else if (!SameContent(abs, cur, path, old)) Steps.Add(new RestoreStep(RestoreAction.Overwrite, path, cur.Kind, old, "content differs"));
                else if (oldKind == FileKind.File && ModeDiffers(cur, old)) Steps.Add(new RestoreStep(RestoreAction.Chmod, path, cur.Kind, old, ModeReason(cur, old)));
                else Steps.Add(new RestoreStep(RestoreAction.Unchanged, path, cur.Kind, old, "unchanged"));
            }
            // Fifos, sockets, devices: nothing to restore.
        }

        private static bool ModeDiffers(NodeAttributes cur, NodeVersion old) => (cur.Mode & 0xFFF) != (old.Attributes.Mode & 0xFFF);

        private static string ModeReason(NodeAttributes cur, NodeVersion old) => $"mode {ModeText(cur.Mode)} -> {ModeText(old.Attributes.Mode)}";

        /// <summary>Lists a node for removal; a directory's entries come before it.</summary>
        private void RemoveTree(string path, FileKind kind, List<RestoreStep> into, string why)
        {
            if (kind == FileKind.Directory)
            {
                foreach (var entry in new DirectoryInfo(Abs(root, path)).EnumerateFileSystemInfos("*", AllEntries))
                {
                    if (NodeAttributes.Of(entry.FullName) is { } st) RemoveTree(StorePath.Combine(path, entry.Name), st.Kind, into, why);
                }
            }
            into.Add(new RestoreStep(RestoreAction.Remove, path, kind, null, why));
        }

        private bool SameContent(string abs, NodeAttributes cur, string path, NodeVersion old)
        {
            if (old.Kind == FileKind.Symlink)
            {
                var target = new FileInfo(abs).LinkTarget;
                var content = history.Content(path, at);
                if (!content.IsAvailable) return target is not null && cur.Size == old.Size && cur.MtimeNs == old.Attributes.MtimeNs;
                return target == Encoding.UTF8.GetString(ProjectHistory.ReadAll(history, content, at.ToString()));
            }
            if (cur.Size != old.Size) return false;
            if (old.ContentState == ContentState.Captured && old.ContentHash is not null)
                return HashFile(abs) == old.ContentHash;
            var c = history.Content(path, at);
            if (c.LivePath is not null && Path.GetFullPath(c.LivePath) == Path.GetFullPath(abs)) return true;
            if (c.IsAvailable)
            {
                using var a = ProjectHistory.Open(history, c, at.ToString());
                using var b = new FileStream(abs, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
                return SameStream(a, b);
            }
            // Bytes not kept: judge by metadata (same inode, size and mtime means never rewritten).
            return cur.Inode == old.Attributes.Inode && cur.MtimeNs == old.Attributes.MtimeNs;
        }

        private static string HashFile(string path)
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
            return Convert.ToHexStringLower(SHA256.HashData(f));
        }

        private static bool SameStream(Stream a, Stream b)
        {
            var ba = new byte[1 << 16];
            var bb = new byte[1 << 16];
            while (true)
            {
                var na = a.ReadAtLeast(ba, ba.Length, throwOnEndOfStream: false);
                var nb = b.ReadAtLeast(bb, bb.Length, throwOnEndOfStream: false);
                if (na != nb || !ba.AsSpan(0, na).SequenceEqual(bb.AsSpan(0, nb))) return false;
                if (na == 0) return true;
            }
        }
    }
}

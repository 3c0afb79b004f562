using System.Text;
using Lighthouse.Store.Events;

namespace Lighthouse.Store.Queries;

internal static class LogQueries
{
    public static LogPage Log(ReadSession s, LogQuery q)
    {
        if (q.Limit is < 1 or > 10_000) throw new ArgumentOutOfRangeException(nameof(q), q.Limit, "Limit must be between 1 and 10000");
        var where = new StringBuilder("WHERE 1=1");
        var args = new List<object?>();
        string Arg(object? value)
        {
            args.Add(value);
            return "$" + (char)('a' + args.Count - 1);
        }
        if (q.Agent is not null) where.Append(" AND agent = ").Append(Arg(q.Agent));
        if (q.PathPrefix is not null)
        {
            var prefix = StorePath.Normalize(q.PathPrefix);
            if (prefix.Length > 0)
            {
                // A path and its subtree: "p" itself or "p/..." — '0' is the character after '/'.
                var p = Arg(prefix);
                var lo = Arg(prefix + "/");
                var hi = Arg(prefix + "0");
                where.Append($" AND (path = {p} OR (path >= {lo} AND path < {hi}) OR path2 = {p} OR (path2 >= {lo} AND path2 < {hi}))");
            }
        }
        if (q.Operations is { Count: > 0 } ops)
            where.Append(" AND op IN (").Append(string.Join(", ", ops.Select(o => Arg(EventCodec.OpName(o))))).Append(')');
        // Times grow with seq (there is no time index): a time range is a range of seq.
        if (q.FromUtc is { } from)
        {
            var ticks = from.ToUniversalTime().Ticks;
            where.Append(" AND seq > ").Append(Arg(s.LastSeqAtOrBefore(ticks - 1))).Append(" AND time_ticks >= ").Append(Arg(ticks));
        }
        if (q.ToUtc is { } to)
        {
            var ticks = to.ToUniversalTime().Ticks;
            where.Append(" AND seq <= ").Append(Arg(s.LastSeqAtOrBefore(ticks - 1))).Append(" AND time_ticks < ").Append(Arg(ticks));
        }
        if (q.BeforeSeq is { } before) where.Append(" AND seq < ").Append(Arg(before));
        where.Append(" ORDER BY seq DESC LIMIT ").Append(Arg(q.Limit + 1));
        var events = s.Events(where.ToString(), args.ToArray()).ToList();
        long? next = null;
        if (events.Count > q.Limit)
        {
            events.RemoveAt(events.Count - 1);
            next = events[^1].Seq;
        }
        return new LogPage(events, next);
    }

    public static IReadOnlyList<FileVersion> Versions(ReadSession s, long fileId)
    {
        var versions = new List<FileVersion>();
        var path = "";
        foreach (var e in s.Events("WHERE file_id = $a ORDER BY seq", fileId))
        {
            switch (e.Op)
            {
                case EventOp.Rename:
                    path = e.Path2!;
                    break;
                case EventOp.Capture:
                {
                    var i = versions.FindLastIndex(v => v.VersionSeq == e.AfterVersion);
                    if (i >= 0) versions[i] = versions[i] with { ContentState = e.ContentState, ContentHash = e.ContentHash, CapturedAtSeq = e.Seq };
                    break;
                }
                case EventOp.Init or EventOp.Baseline or EventOp.Create or EventOp.Mkdir or EventOp.Symlink or EventOp.Write or EventOp.SetAttributes:
                    path = e.Path;
                    versions.Add(new FileVersion(e.FileId, e.Seq, path, e.Agent, e.TimeUtc, e.Op, e.Attributes!, e.ContentState, e.ContentHash,
                        e.ContentState == ContentState.Captured ? e.Seq : null));
                    break;
            }
        }
        // Versions the retention policy thinned: the events say what was captured, the marks that it is no longer kept.
        using (var cmd = s.Command("SELECT p.version_seq FROM pruned p JOIN versions v ON v.from_seq = p.version_seq WHERE v.file_id = $a", fileId))
        using (var r = cmd.ExecuteReader())
            while (r.Read())
            {
                var i = versions.FindIndex(v => v.VersionSeq == r.GetInt64(0));
                if (i >= 0) versions[i] = versions[i] with { ContentState = ContentState.Pruned };
            }
        return versions;
    }

    /// <summary>
    /// The history of a name, followed like <c>git log --follow</c>: the versions of every file that held
    /// <paramref name="path"/> up to <paramref name="upTo"/> (each up to when it stopped holding it), newest first. A
    /// file that came to the name by a rename (a temporary file renamed over it by an atomic save, or a plain move)
    /// brings its versions from before, under its earlier names, and those names are followed back in turn: the files
    /// that held them before it. Each version carries its own file id and the name it had.
    /// </summary>
    public static IReadOnlyList<FileVersion> PathHistory(ReadSession s, string path, long upTo)
    {
        var versions = new List<FileVersion>();
        var files = new HashSet<long>();
        var followed = new Dictionary<string, long>(StringComparer.Ordinal); // name → the point it was followed up to
        var names = new Queue<(string Name, long UpTo)>();
        names.Enqueue((path, upTo));
        while (names.TryDequeue(out var next))
        {
            var (name, until) = next;
            if (followed.TryGetValue(name, out var done) && done >= until) continue;
            followed[name] = until;
            foreach (var (fileId, heldUntil) in Holders(s, name, until))
            {
                if (!files.Add(fileId)) continue;
                foreach (var v in Versions(s, fileId))
                    if (v.VersionSeq <= heldUntil) versions.Add(v);
                // Its earlier names, each up to just before it left them.
                foreach (var e in s.Events("WHERE file_id = $a AND op = $b AND seq <= $c ORDER BY seq", fileId, EventCodec.OpName(EventOp.Rename), heldUntil))
                    names.Enqueue((e.Path, e.Seq - 1));
                // An exchange moved the event's file from path to path2 and the other file from path2 to path.
                foreach (var e in s.Events("WHERE (file_id = $a OR other_file_id = $a) AND op = $b AND seq <= $c ORDER BY seq", fileId, EventCodec.OpName(EventOp.Exchange), heldUntil))
                    names.Enqueue((e.FileId == fileId ? e.Path : e.Path2!, e.Seq - 1));
            }
        }
        versions.Sort((a, b) => b.VersionSeq.CompareTo(a.VersionSeq));
        return versions;
    }

    /// <summary>The files that held <paramref name="name"/> at some point up to <paramref name="upTo"/>, each with the
    /// last event at which it held it (<paramref name="upTo"/> for the one holding it then).</summary>
    private static Dictionary<long, long> Holders(ReadSession s, string name, long upTo)
    {
        var holders = new Dictionary<long, long>();
        foreach (var e in s.Events("WHERE (path = $a OR path2 = $a) AND seq <= $b ORDER BY seq", name, upTo))
        {
            if (e.Op is EventOp.SnapshotCreate or EventOp.SnapshotDelete or EventOp.Deny or EventOp.Policy or EventOp.Agents) continue;
            // Either side of a rename or link, and any other change made at the name: the file held it then.
            holders[e.FileId] = e.Seq;
            // A rename over the name: the file it replaced held it until then.
            if (e.Op == EventOp.Rename && e.Path2 == name && e.OtherFileId is { } replaced) holders[replaced] = e.Seq;
            // An exchange: both files held the name, one until the swap and the other from it.
            if (e.Op == EventOp.Exchange && e.OtherFileId is { } other) holders[other] = e.Seq;
        }
        if (s.Resolve(name, upTo) is { } now) holders[now.FileId] = upTo;
        return holders;
    }

    public static IReadOnlyList<ChangedPath> Changed(ReadSession s, long from, long to)
    {
        if (from > to) (from, to) = (to, from);
        var paths = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var e in s.Events("WHERE seq > $a AND seq <= $b ORDER BY seq", from, to))
        {
            if (e.Op is EventOp.SnapshotCreate or EventOp.SnapshotDelete or EventOp.Deny or EventOp.Policy or EventOp.Agents or EventOp.Init) continue;
            paths.Add(e.Path);
            if (e.Path2 is not null) paths.Add(e.Path2);
            if (e.Op is EventOp.Rename or EventOp.Exchange)
            {
                // A directory that moved takes its subtree along: those paths changed too.
                foreach (var side in new[] { e.Path, e.Path2! })
                {
                    AddSubtree(s, side, from, paths);
                    AddSubtree(s, side, to, paths);
                }
            }
        }
        var result = new List<ChangedPath>();
        foreach (var path in paths)
        {
            var before = s.Resolve(path, from);
            var after = s.Resolve(path, to);
            ChangeKind kind;
            if (before is null && after is null) continue;
            if (before is null) kind = ChangeKind.Added;
            else if (after is null) kind = ChangeKind.Deleted;
            else if (before.FileId != after.FileId) kind = ChangeKind.Replaced;
            else
            {
                var vb = s.VersionAt(before.FileId, from);
                var va = s.VersionAt(after.FileId, to);
                if (vb?.VersionSeq == va?.VersionSeq && vb?.ContentHash == va?.ContentHash) continue;
                if (vb is not null && va is not null && vb.Attributes == va.Attributes && vb.ContentHash == va.ContentHash) continue;
                kind = ChangeKind.Modified;
            }
            result.Add(new ChangedPath(path, kind, before?.FileId, after?.FileId));
        }
        return result;
    }

    private static void AddSubtree(ReadSession s, string path, long asOf, SortedSet<string> paths)
    {
        var root = s.Resolve(path, asOf);
        if (root is null || root.Kind != FileKind.Directory) return;
        var stack = new Stack<(long Id, string Path)>();
        stack.Push((root.FileId, path));
        while (stack.Count > 0)
        {
            var (id, dir) = stack.Pop();
            foreach (var child in s.List(id, asOf))
            {
                var childPath = StorePath.Combine(dir, child.Name);
                paths.Add(childPath);
                if (child.Kind == FileKind.Directory) stack.Push((child.FileId, childPath));
            }
        }
    }

    public static IReadOnlyList<Snapshot> Snapshots(ReadSession s)
    {
        var list = new List<Snapshot>();
        using var cmd = s.Command($"SELECT sn.name, sn.seq, sn.created_seq, e.agent, e.time_ticks FROM snapshots sn JOIN events e ON e.seq = sn.created_seq ORDER BY sn.seq, sn.name");
        using var r = cmd.ExecuteReader();
        while (r.Read())
            list.Add(new Snapshot(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetString(3), new DateTime(r.GetInt64(4), DateTimeKind.Utc)));
        return list;
    }
}

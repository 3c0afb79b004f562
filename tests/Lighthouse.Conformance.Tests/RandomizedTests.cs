using Lighthouse.Conformance.Tests.Support;
using Xunit.Abstractions;
using Xunit.Sdk;
using Lighthouse.Interop;
using static Lighthouse.Conformance.Tests.Support.Sys;

namespace Lighthouse.Conformance.Tests;

/// <summary>
/// A long seeded random sequence of file operations (write/truncate/punch/fallocate/read at random
/// offsets through paths and through descriptors kept open across renames and unlinks, rename with
/// every flag, link, unlink, chmod, copy_file_range, fsync, stat) applied in lockstep to the mount and
/// to a native directory: every result (return value, errno, bytes read, sizes, link counts) must be
/// equal, and so must the final trees. The seed is printed; LIGHTHOUSE_TEST_SEED replays one,
/// LIGHTHOUSE_TEST_RANDOM_OPS changes the length (default 3000), LIGHTHOUSE_TEST_RANDOM_SKIP leaves kinds out.
/// </summary>
public abstract unsafe class RandomizedTests<TTarget> : ConformanceTestBase<TTarget> where TTarget : MountTarget
{
    protected RandomizedTests(TTarget fx, ITestOutputHelper output) : base(fx, output) { }

    private static readonly string[] Names = ["f0", "f1", "f2", "f3", "f4", "d0/f5", "d0/f6", "d1/f7", "d1/f8"];
    private const int Slots = 4;

    private enum Kind
    {
        WritePath, WriteFd, ReadPath, ReadFd, TruncatePath, TruncateFd, Punch, Fallocate, Rename, Link,
        Unlink, Stat, OpenSlot, CloseSlot, Fstat, Fsync, CopyRange, Chmod, ReadWhole,
    }

    private static readonly (Kind Kind, int Weight)[] Weights =
    [
        (Kind.WritePath, 10), (Kind.WriteFd, 14), (Kind.ReadPath, 8), (Kind.ReadFd, 10), (Kind.TruncatePath, 4),
        (Kind.TruncateFd, 4), (Kind.Punch, 6), (Kind.Fallocate, 3), (Kind.Rename, 7), (Kind.Link, 4),
        (Kind.Unlink, 5), (Kind.Stat, 6), (Kind.OpenSlot, 8), (Kind.CloseSlot, 3), (Kind.Fstat, 4),
        (Kind.Fsync, 2), (Kind.CopyRange, 3), (Kind.Chmod, 2), (Kind.ReadWhole, 3),
    ];

    private sealed record Op(Kind Kind, string A, string B, int Slot, int Slot2, long Off, long Off2, int Len,
        int Flags, uint Mode, byte[]? Data)
    {
        public override string ToString() => Kind switch
        {
            Kind.WritePath => $"write({A}, {Len} bytes @ {Off}, flags 0x{Flags:x})",
            Kind.WriteFd => $"pwrite(slot {Slot}, {Len} bytes @ {Off})",
            Kind.ReadPath => $"pread({A}, {Len} @ {Off})",
            Kind.ReadFd => $"pread(slot {Slot}, {Len} @ {Off})",
            Kind.TruncatePath => $"truncate({A}, {Off})",
            Kind.TruncateFd => $"ftruncate(slot {Slot}, {Off})",
            Kind.Punch => $"fallocate(slot {Slot}, PUNCH_HOLE|KEEP_SIZE, {Off}, {Len})",
            Kind.Fallocate => $"fallocate(slot {Slot}, mode {Flags}, {Off}, {Len})",
            Kind.Rename => $"renameat2({A}, {B}, flags {Flags})",
            Kind.Link => $"link({A}, {B})",
            Kind.Unlink => $"unlink({A})",
            Kind.Stat => $"stat({A})",
            Kind.OpenSlot => $"open({A}, 0x{Flags:x}) -> slot {Slot}",
            Kind.CloseSlot => $"close(slot {Slot})",
            Kind.Fstat => $"fstat(slot {Slot})",
            Kind.Fsync => $"{(Flags == 0 ? "fsync" : "fdatasync")}(slot {Slot})",
            Kind.CopyRange => $"copy_file_range(slot {Slot} @ {Off} -> slot {Slot2} @ {Off2}, {Len})",
            Kind.Chmod => $"chmod({A}, {Convert.ToString(Mode, 8)})",
            Kind.ReadWhole => $"read whole {A}",
            _ => Kind.ToString(),
        };
    }

    private sealed class Side(string root)
    {
        public string Root { get; } = root;
        public int[] Fds { get; } = [-1, -1, -1, -1];
    }

    /// <summary>LIGHTHOUSE_TEST_RANDOM_SKIP=Link,Rename,… leaves operation kinds out, to look past a known bug.</summary>
    private static readonly (Kind Kind, int Weight)[] Enabled = Weights
        .Where(w => !(Environment.GetEnvironmentVariable("LIGHTHOUSE_TEST_RANDOM_SKIP") ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Contains(w.Kind.ToString(), StringComparer.OrdinalIgnoreCase))
        .ToArray();

    private static Op Next(Random rng)
    {
        int total = Enabled.Sum(w => w.Weight);
        int pick = rng.Next(total);
        var kind = Enabled.First(w => (pick -= w.Weight) < 0).Kind;
        string a = Names[rng.Next(Names.Length)], b = Names[rng.Next(Names.Length)];
        long off = rng.Next(10) < 6 ? rng.Next(256 << 10) : rng.Next(3 << 19);
        int r = rng.Next(100);
        int len = r < 70 ? rng.Next(1, 8 << 10) : r < 95 ? rng.Next(8 << 10, 128 << 10) : rng.Next(128 << 10, 512 << 10);
        int flags = 0;
        uint mode = 0;
        byte[]? data = null;
        switch (kind)
        {
            case Kind.WritePath:
                flags = O_WRONLY | (rng.Next(10) < 8 ? O_CREAT : 0) | (rng.Next(10) == 0 ? O_APPEND : 0);
                data = new byte[len];
                rng.NextBytes(data);
                break;
            case Kind.WriteFd:
                data = new byte[len];
                rng.NextBytes(data);
                break;
            case Kind.TruncatePath or Kind.TruncateFd:
                off = rng.Next(4) == 0 ? 0 : rng.Next(3 << 19);
                break;
            case Kind.Fallocate:
                flags = rng.Next(2) == 0 ? 0 : FALLOC_FL_KEEP_SIZE;
                break;
            case Kind.Rename:
                flags = rng.Next(10) switch { < 6 => 0, < 8 => (int)RENAME_NOREPLACE, _ => (int)RENAME_EXCHANGE };
                break;
            case Kind.OpenSlot:
                flags = O_RDWR | (rng.Next(10) < 7 ? O_CREAT : 0) | (rng.Next(10) == 0 ? O_APPEND : 0) | (rng.Next(20) == 0 ? O_TRUNC : 0);
                break;
            case Kind.Fsync:
                flags = rng.Next(2);
                break;
            case Kind.Chmod:
                mode = new uint[] { 0x1a4, 0x180, 0x1ed, 0x124 }[rng.Next(4)];
                break;
        }
        return new Op(kind, a, b, rng.Next(Slots), rng.Next(Slots), off, rng.Next(3 << 19), len, flags, mode, data);
    }

    private static string Apply(Side s, Op op)
    {
        string P(string n) => $"{s.Root}/{n}";
        int fd = s.Fds[op.Slot];
        switch (op.Kind)
        {
            case Kind.WritePath:
            {
                int f = open(P(op.A), op.Flags | O_CLOEXEC, 0x1a4);
                if (f < 0) return $"open {ErrName(Errno)}";
                Res w;
                fixed (byte* p = op.Data) w = R(pwrite(f, p, (nuint)op.Len, op.Off));
                close(f);
                return $"wrote {w}";
            }
            case Kind.WriteFd:
            {
                if (fd < 0) return "slot closed";
                fixed (byte* p = op.Data) return R(pwrite(fd, p, (nuint)op.Len, op.Off)).ToString();
            }
            case Kind.ReadPath or Kind.ReadFd:
            {
                int f = fd;
                if (op.Kind == Kind.ReadPath)
                {
                    f = open(P(op.A), O_RDONLY | O_CLOEXEC, 0);
                    if (f < 0) return $"open {ErrName(Errno)}";
                }
                else if (f < 0) return "slot closed";
                var buf = new byte[op.Len];
                Res r;
                fixed (byte* p = buf) r = R(pread(f, p, (nuint)op.Len, op.Off));
                if (op.Kind == Kind.ReadPath) close(f);
                return r.Ok ? $"read {r.Value} {Twin.Hash(buf[..(int)r.Value])}" : r.ToString();
            }
            case Kind.TruncatePath: return R(truncate(P(op.A), op.Off)).ToString();
            case Kind.TruncateFd: return fd < 0 ? "slot closed" : R(ftruncate(fd, op.Off)).ToString();
            case Kind.Punch:
                return fd < 0 ? "slot closed" : R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, op.Off, op.Len)).ToString();
            case Kind.Fallocate: return fd < 0 ? "slot closed" : R(fallocate(fd, op.Flags, op.Off, op.Len)).ToString();
            case Kind.Rename: return R(renameat2(AT_FDCWD, P(op.A), AT_FDCWD, P(op.B), (uint)op.Flags)).ToString();
            case Kind.Link: return R(link(P(op.A), P(op.B))).ToString();
            case Kind.Unlink: return R(unlink(P(op.A))).ToString();
            case Kind.Stat: return StatE(P(op.A)).ToString();
            case Kind.OpenSlot:
            {
                if (fd >= 0) close(fd);
                int f = open(P(op.A), op.Flags | O_CLOEXEC, 0x1a4);
                s.Fds[op.Slot] = f;
                return f < 0 ? $"open {ErrName(Errno)}" : "opened";
            }
            case Kind.CloseSlot:
            {
                if (fd < 0) return "slot closed";
                s.Fds[op.Slot] = -1;
                return R(close(fd)).ToString();
            }
            case Kind.Fstat:
            {
                if (fd < 0) return "slot closed";
                StatxBuf b;
                var r = R(statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &b));
                return r.Ok ? $"mode {Convert.ToString(b.Mode, 8)} size {b.Size} nlink {b.Nlink}" : $"fstat {r}";
            }
            case Kind.Fsync: return fd < 0 ? "slot closed" : R(op.Flags == 0 ? fsync(fd) : fdatasync(fd)).ToString();
            case Kind.CopyRange:
            {
                int to = s.Fds[op.Slot2];
                if (fd < 0 || to < 0) return "slot closed";
                long i = op.Off, o = op.Off2;
                var r = R(copy_file_range(fd, &i, to, &o, (nuint)op.Len, 0));
                return $"{r} in {i} out {o}";
            }
            case Kind.Chmod: return R(chmod(P(op.A), op.Mode)).ToString();
            case Kind.ReadWhole:
            {
                var st = Stat(P(op.A), out int e);
                if (st == null) return ErrName(e);
                return st.IsReg ? $"{st.Size} {Twin.Hash(ReadFile(P(op.A)))}" : $"mode {Convert.ToString(st.Mode, 8)}";
            }
            default: throw new InvalidOperationException(op.Kind.ToString());
        }
    }

    /// <summary>Whether an earlier operation concerns a name (or descriptor slot) of the failing one.</summary>
    private static bool Touches(Op earlier, Op failing, string? slotName)
    {
        bool pathOp = earlier.Kind is Kind.WritePath or Kind.ReadPath or Kind.TruncatePath or Kind.Rename or Kind.Link
            or Kind.Unlink or Kind.Stat or Kind.OpenSlot or Kind.Chmod or Kind.ReadWhole;
        bool fdOp = failing.Kind is Kind.WriteFd or Kind.ReadFd or Kind.TruncateFd or Kind.Punch or Kind.Fallocate
            or Kind.Fstat or Kind.Fsync or Kind.CopyRange or Kind.CloseSlot;
        var names = fdOp ? new[] { slotName ?? "" } : new[] { failing.A, failing.B };
        if (pathOp && (names.Contains(earlier.A) || (earlier.Kind is Kind.Rename or Kind.Link && names.Contains(earlier.B))))
            return true;
        return fdOp && earlier.Slot == failing.Slot && (!pathOp || earlier.Kind == Kind.OpenSlot);
    }

    /// <summary>The name the failing operation's descriptor slot was last opened on.</summary>
    private static string? SlotName(List<(Op Op, string Result)> all, Op failing) =>
        all.LastOrDefault(e => e.Op.Kind == Kind.OpenSlot && e.Op.Slot == failing.Slot && e.Op != failing).Op?.A;

    [Fact]
    public void RandomOperationsInLockstep() => Run(t =>
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("LIGHTHOUSE_TEST_SEED"), out var s0) ? s0 : Environment.TickCount & 0x7fffffff;
        int count = int.TryParse(Environment.GetEnvironmentVariable("LIGHTHOUSE_TEST_RANDOM_OPS"), out var c0) ? c0 : 3000;
        Out.WriteLine($"seed {seed} (replay with LIGHTHOUSE_TEST_SEED={seed}), {count} operations" +
                      (Enabled.Length < Weights.Length ? $", only {string.Join(',', Enabled.Select(e => e.Kind))}" : ""));
        Console.WriteLine($"{GetType().Name}: seed {seed}");
        var rng = new Random(seed);
        var m = new Side(t.M);
        var n = new Side(t.N);
        t.Do(d => { Mkdir($"{d}/d0"); Mkdir($"{d}/d1"); });
        var history = new Queue<string>();
        var all = new List<(Op Op, string Result)>();
        var tally = new Dictionary<string, int>();
        try
        {
            for (int i = 0; i < count; i++)
            {
                var op = Next(rng);
                string rm = Apply(m, op);
                string rn = Apply(n, op);
                history.Enqueue($"#{i} {op} -> {rn}");
                all.Add((op, rn));
                if (history.Count > 25) history.Dequeue();
                string key = $"{op.Kind}:{(rn.StartsWith("-1 ", StringComparison.Ordinal) ? rn : rn.StartsWith("open E", StringComparison.Ordinal) ? rn : "ok")}";
                tally[key] = tally.GetValueOrDefault(key) + 1;
                if (rm != rn)
                    throw new XunitException(
                        $"seed {seed}, operation #{i}: {op}\n  mount:  {rm}\n  native: {rn}\nlast operations (native results):\n  " +
                        string.Join("\n  ", history) + "\nearlier operations on the names involved:\n  " +
                        string.Join("\n  ", all.Select((e, k) => (e, k)).Where(x => Touches(x.e.Op, op, SlotName(all, op))).TakeLast(30)
                            .Select(x => $"#{x.k} {x.e.Op} -> {x.e.Result}")));
                if (i % 500 == 499)
                    Tree.AssertSame($"seed {seed}: trees after operation #{i}", t.M, t.N);
            }
        }
        finally
        {
            foreach (var side in new[] { m, n })
                for (int k = 0; k < Slots; k++)
                    if (side.Fds[k] >= 0) { close(side.Fds[k]); side.Fds[k] = -1; }
        }
        Out.WriteLine(string.Join(", ", tally.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value}")));
        Tree.AssertSame($"seed {seed}: final trees", t.M, t.N);
        Tree.AssertSame($"seed {seed}: mount vs backing", t.M, t.B);
    }, timeoutSeconds: 300);
}

public sealed class RandomizedTests_Passthrough(PassthroughDefault fx, ITestOutputHelper output) : RandomizedTests<PassthroughDefault>(fx, output);
public sealed class RandomizedTests_Mount(RecordedMount fx, ITestOutputHelper output) : RandomizedTests<RecordedMount>(fx, output);

/// <summary>The same tests with nothing cached in the kernel and no kernel passthrough: every
/// read, write and attribute goes through the daemon.</summary>
public sealed class RandomizedTests_PassthroughNoCache(PassthroughNoCache fx, ITestOutputHelper output) : RandomizedTests<PassthroughNoCache>(fx, output);
/// <summary>The recorded mount with nothing cached in the kernel and no kernel passthrough: every
/// operation goes through the recording code.</summary>
public sealed class RandomizedTests_MountNoCache(RecordedMountNoCache fx, ITestOutputHelper output) : RandomizedTests<RecordedMountNoCache>(fx, output);

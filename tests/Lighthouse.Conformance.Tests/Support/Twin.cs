using System.Security.Cryptography;
using System.Text;
using Xunit.Sdk;

namespace Lighthouse.Conformance.Tests.Support;

/// <summary>
/// One test's pair of directories: <see cref="M"/> inside the mount and <see cref="N"/> in the native
/// twin directory, created empty; <see cref="B"/> is the backing directory of <see cref="M"/> (inside
/// the mount's source). Every operation is applied to both, mount first, and the results must be equal.
/// </summary>
public sealed class Twin
{
    public string M { get; }
    public string N { get; }
    public string B { get; }

    public Twin(string m, string n, string b) { M = m; N = n; B = b; }

    public string Mp(string rel) => Path.Join(M, rel);
    public string Np(string rel) => Path.Join(N, rel);
    public string Bp(string rel) => Path.Join(B, rel);

    /// <summary>Runs <paramref name="op"/> on the mount directory, then on the native one, and requires equal results.</summary>
    public T Both<T>(string what, Func<string, T> op)
    {
        var m = op(M);
        var n = op(N);
        Same(what, m, n);
        return m;
    }

    /// <summary>Like <see cref="Both{T}"/> for a raw system call result (return value and errno compared).</summary>
    public Res Call(string what, Func<string, long> op) => Both(what, d => Sys.R(op(d)));

    /// <summary>Compares only success/errno (the success value may differ by nature, e.g. a descriptor number).</summary>
    public Res Call0(string what, Func<string, long> op) => Both(what, d => Sys.R0(op(d)));

    /// <summary>Requires the call to fail with <paramref name="errno"/> natively (so the test itself is right)
    /// and to give the same result on the mount.</summary>
    public void Err(string what, int errno, Func<string, long> op)
    {
        var m = Sys.R0(op(M));
        var n = Sys.R0(op(N));
        if (n.Errno != errno)
            throw new XunitException($"test is wrong: {what} natively gave {n}, expected -1 {Sys.ErrName(errno)}");
        Same(what, m, n);
    }

    /// <summary>Runs a set-up step on both sides, without comparing (it must succeed on both).</summary>
    public void Do(Action<string> op)
    {
        op(M);
        op(N);
    }

    public static void Same<T>(string what, T mount, T native)
    {
        if (!EqualityComparer<T>.Default.Equals(mount, native))
            throw new XunitException($"{what}: the mount differs from native\n  mount:  {Show(mount)}\n  native: {Show(native)}");
    }

    public static string Show<T>(T v) => v switch
    {
        null => "null",
        byte[] b => $"{b.Length} bytes sha256={Hash(b)[..16]}",
        string s => $"\"{s}\"",
        System.Collections.IEnumerable e => "[" + string.Join(", ", e.Cast<object?>().Select(x => x?.ToString())) + "]",
        _ => v.ToString() ?? "",
    };

    public static string Hash(byte[] b) => Convert.ToHexString(SHA256.HashData(b)).ToLowerInvariant();

    /// <summary>A deterministic pseudo-random byte pattern (from a seed), used as file content.</summary>
    public static byte[] Pattern(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
}

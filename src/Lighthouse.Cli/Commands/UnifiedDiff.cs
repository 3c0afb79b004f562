using System.Text;

namespace Lighthouse.Cli.Commands;

/// <summary>Line diff (Myers, with common prefix/suffix trimmed) printed in unified format.</summary>
public static class UnifiedDiff
{
    /// <summary>Beyond this many edits the middle part is shown as replaced wholesale (bounded memory: O(D²)).</summary>
    public const int MaxEdits = 4000;
    public const long MaxTextBytes = 16L << 20;

    private const string NoEol = "\u0000";

    /// <summary>Whether the bytes look like text: valid UTF-8 without NUL bytes in the first 8 KiB.</summary>
    public static bool IsText(ReadOnlySpan<byte> data)
    {
        if (data[..Math.Min(data.Length, 8192)].Contains((byte)0)) return false;
        try
        {
            _ = new UTF8Encoding(false, true).GetCharCount(data);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    public static string[] Lines(string text)
    {
        if (text.Length == 0) return [];
        var lines = text.Split('\n');
        if (text.EndsWith('\n')) return lines[..^1];
        lines[^1] += NoEol;
        return lines;
    }

    /// <summary>The unified diff of two texts ("" if equal), with <paramref name="context"/> lines around each change.</summary>
    public static string Format(string oldText, string newText, string oldLabel, string newLabel, int context = 3)
    {
        var a = Lines(oldText);
        var b = Lines(newText);
        var script = Script(a, b);
        if (script.All(s => s.Op == '=')) return "";
        var sb = new StringBuilder();
        sb.Append("--- ").Append(oldLabel).Append('\n');
        sb.Append("+++ ").Append(newLabel).Append('\n');

        // Positions in a and b before each script entry.
        var aPos = new int[script.Count + 1];
        var bPos = new int[script.Count + 1];
        for (var i = 0; i < script.Count; i++)
        {
            aPos[i + 1] = aPos[i] + (script[i].Op != '+' ? 1 : 0);
            bPos[i + 1] = bPos[i] + (script[i].Op != '-' ? 1 : 0);
        }
        var i0 = 0;
        while (i0 < script.Count)
        {
            var firstChange = script.FindIndex(i0, s => s.Op != '=');
            if (firstChange < 0) break;
            var start = Math.Max(i0, firstChange - context);
            var end = firstChange;
            // Extend while the next change is within 2*context equal lines.
            while (true)
            {
                var lastChange = end;
                while (end < script.Count && script[end].Op != '=') { lastChange = end; end++; }
                var next = script.FindIndex(end, s => s.Op != '=');
                if (next >= 0 && next - end <= 2 * context) { end = next; continue; }
                end = Math.Min(script.Count, lastChange + 1 + context);
                break;
            }
            var aLen = aPos[end] - aPos[start];
            var bLen = bPos[end] - bPos[start];
            sb.Append("@@ -").Append(Range(aPos[start], aLen)).Append(" +").Append(Range(bPos[start], bLen)).Append(" @@\n");
            for (var i = start; i < end; i++)
            {
                var (op, ai, bi) = script[i];
                var line = op == '+' ? b[bi] : a[ai];
                var prefix = op == '=' ? ' ' : op;
                if (line.EndsWith(NoEol, StringComparison.Ordinal))
                    sb.Append(prefix).Append(line.AsSpan(0, line.Length - 1)).Append("\n\\ No newline at end of file\n");
                else
                    sb.Append(prefix).Append(line).Append('\n');
            }
            i0 = end;
        }
        return sb.ToString();
    }

    private static string Range(int before, int length) =>
        length == 1 ? (before + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)
        : length == 0 ? $"{before},0"
        : $"{before + 1},{length}";

    /// <summary>Edit script: '=' (a index, b index), '-' (a index), '+' (b index).</summary>
    public static List<(char Op, int A, int B)> Script(string[] a, string[] b)
    {
        var n = a.Length;
        var m = b.Length;
        var pre = 0;
        while (pre < n && pre < m && a[pre] == b[pre]) pre++;
        var suf = 0;
        while (suf < n - pre && suf < m - pre && a[n - 1 - suf] == b[m - 1 - suf]) suf++;

        var result = new List<(char, int, int)>(n + m);
        for (var i = 0; i < pre; i++) result.Add(('=', i, i));
        var middle = Myers(a, pre, n - suf, b, pre, m - suf);
        if (middle is null)
        {
            for (var i = pre; i < n - suf; i++) result.Add(('-', i, -1));
            for (var j = pre; j < m - suf; j++) result.Add(('+', -1, j));
        }
        else
        {
            result.AddRange(middle);
        }
        for (var i = 0; i < suf; i++) result.Add(('=', n - suf + i, m - suf + i));
        return result;
    }

    private static List<(char, int, int)>? Myers(string[] a, int a0, int a1, string[] b, int b0, int b1)
    {
        int n = a1 - a0, m = b1 - b0;
        var ops = new List<(char, int, int)>();
        if (n == 0 || m == 0)
        {
            for (var i = a0; i < a1; i++) ops.Add(('-', i, -1));
            for (var j = b0; j < b1; j++) ops.Add(('+', -1, j));
            return ops;
        }
        var maxD = Math.Min(n + m, MaxEdits);
        var off = maxD + 1;
        var v = new int[2 * maxD + 3];
        var trace = new List<int[]>();
        var found = -1;
        for (var d = 0; d <= maxD && found < 0; d++)
        {
            for (var k = -d; k <= d; k += 2)
            {
                int x = k == -d || (k != d && v[off + k - 1] < v[off + k + 1]) ? v[off + k + 1] : v[off + k - 1] + 1;
                var y = x - k;
                while (x < n && y < m && a[a0 + x] == b[b0 + y]) { x++; y++; }
                v[off + k] = x;
                if (x >= n && y >= m) { found = d; break; }
            }
            var snap = new int[2 * d + 1];
            Array.Copy(v, off - d, snap, 0, 2 * d + 1);
            trace.Add(snap);
        }
        if (found < 0) return null;

        int cx = n, cy = m;
        for (var d = found; d > 0; d--)
        {
            var prev = trace[d - 1];
            int V(int k) => prev[k + (d - 1)];
            var k0 = cx - cy;
            var prevK = k0 == -d || (k0 != d && V(k0 - 1) < V(k0 + 1)) ? k0 + 1 : k0 - 1;
            var px = V(prevK);
            var py = px - prevK;
            while (cx > px && cy > py) { cx--; cy--; ops.Add(('=', a0 + cx, b0 + cy)); }
            if (prevK == k0 + 1) ops.Add(('+', -1, b0 + py));
            else ops.Add(('-', a0 + px, -1));
            cx = px;
            cy = py;
        }
        while (cx > 0 && cy > 0) { cx--; cy--; ops.Add(('=', a0 + cx, b0 + cy)); }
        ops.Reverse();
        return ops;
    }
}

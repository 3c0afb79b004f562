using System.Text;

namespace Lighthouse.Store;

/// <summary>
/// Project-relative paths as the store keeps them: '/'-separated, no leading or trailing slash,
/// "" for the project root, valid UTF-8, every name at most 255 bytes (Linux NAME_MAX).
/// </summary>
public static class StorePath
{
    public const int MaxNameBytes = 255;
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    public static string Normalize(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var trimmed = path.Trim('/');
        if (trimmed.Length == 0) return "";
        foreach (var name in trimmed.Split('/'))
            ValidateName(name, path);
        if (trimmed == StoreConstants.StateDirName || trimmed.StartsWith(StoreConstants.StateDirName + "/", StringComparison.Ordinal))
            throw new InvalidStorePathException(path, $"{StoreConstants.StateDirName}/ holds the store itself and is not part of the project");
        return trimmed;
    }

    /// <summary>Decodes a name or path received as bytes (as from the kernel); rejects bytes that are not UTF-8.</summary>
    public static string FromBytes(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return Normalize(StrictUtf8.GetString(bytes));
        }
        catch (DecoderFallbackException e)
        {
            var at = e.Index >= 0 ? $" at byte {e.Index}" : "";
            throw new InvalidStorePathException(Encoding.UTF8.GetString(bytes),
                $"it is not valid UTF-8 (bad byte{at}); Lighthouse records only UTF-8 names");
        }
    }

    public static void ValidateName(string name, string fullPathForMessage)
    {
        if (name.Length == 0)
            throw new InvalidStorePathException(fullPathForMessage, "empty path component ('//')");
        if (name is "." or "..")
            throw new InvalidStorePathException(fullPathForMessage, "'.' and '..' are not allowed; give a path relative to the project root");
        if (name.Contains('\0'))
            throw new InvalidStorePathException(fullPathForMessage, "contains a NUL character");
        int bytes;
        try
        {
            bytes = StrictUtf8.GetByteCount(name);
        }
        catch (EncoderFallbackException)
        {
            throw new InvalidStorePathException(fullPathForMessage, "it is not valid UTF-8 (it holds an unpaired surrogate)");
        }
        if (bytes > MaxNameBytes)
            throw new InvalidStorePathException(fullPathForMessage, $"the name '{name[..Math.Min(24, name.Length)]}…' is {bytes} bytes long; the limit is {MaxNameBytes} (NAME_MAX)");
    }

    public static string Parent(string path)
    {
        var i = path.LastIndexOf('/');
        return i < 0 ? "" : path[..i];
    }

    public static string Name(string path)
    {
        var i = path.LastIndexOf('/');
        return i < 0 ? path : path[(i + 1)..];
    }

    public static string Combine(string dir, string name) => dir.Length == 0 ? name : dir + "/" + name;

    public static int Depth(string path) => path.Length == 0 ? 0 : path.Count(c => c == '/') + 1;

    /// <summary>The deepest directory that contains the parent of every path ("" when there are none):
    /// the smallest scope to reconcile after changes to those paths.</summary>
    public static string CommonDirectory(IEnumerable<string> paths)
    {
        string? common = null;
        foreach (var p in paths)
        {
            var parent = Parent(p);
            if (common is null) { common = parent; continue; }
            while (!IsSelfOrUnder(parent, common)) common = Parent(common);
        }
        return common ?? "";
    }

    public static bool IsSelfOrUnder(string path, string ancestor) =>
        ancestor.Length == 0 || path == ancestor || (path.Length > ancestor.Length && path[ancestor.Length] == '/' && path.StartsWith(ancestor, StringComparison.Ordinal));
}

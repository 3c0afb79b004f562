using System.Text;
using Lighthouse.Store;

namespace Lighthouse.Project.Files;

/// <summary>
/// Paths given by remote callers (HTTP, MCP), checked before anything touches the disk: relative to the project root,
/// '/'-separated, no "." or "..", no NUL, valid UTF-8, at most <see cref="MaxPathBytes"/> bytes and each name at most
/// 255 (NAME_MAX), never inside <c>.lighthouse/</c>. Resolution on disk is checked again (openat2 beneath the project).
/// </summary>
public static class ProjectPaths
{
    /// <summary>PATH_MAX, counting the bytes of the project-relative path.</summary>
    public const int MaxPathBytes = 4096;

    /// <summary>The store path for <paramref name="raw"/> ("" or "." for the root; a trailing '/' is allowed).</summary>
    /// <exception cref="FileServiceException">BadPath, saying what is wrong.</exception>
    public static string Parse(string? raw)
    {
        if (string.IsNullOrEmpty(raw) || raw == "." || raw == "./") return "";
        if (raw.Contains('\0')) throw Bad(raw, "it contains a NUL character");
        if (raw[0] == '/') throw Bad(raw, "absolute paths are not accepted; give a path relative to the project root");
        int bytes;
        try { bytes = new UTF8Encoding(false, true).GetByteCount(raw); }
        catch (EncoderFallbackException) { throw Bad(raw, "it is not valid UTF-8 (it holds an unpaired surrogate)"); }
        if (bytes > MaxPathBytes) throw Bad(raw, $"it is {bytes} bytes long; the limit is {MaxPathBytes} (PATH_MAX)");
        var trimmed = raw.EndsWith('/') ? raw[..^1] : raw;
        if (trimmed.Length == 0 || trimmed.StartsWith('/')) throw Bad(raw, "empty path component ('//')");
        try { return StorePath.Normalize(trimmed); }
        catch (InvalidStorePathException e) { throw new FileServiceException(FileProblem.BadPath, e.Message); }
    }

    private static FileServiceException Bad(string raw, string why) =>
        new(FileProblem.BadPath, $"invalid path '{Shorten(raw)}': {why}");

    /// <summary>A path for a message: NULs shown as \0, cut to 120 characters.</summary>
    internal static string Shorten(string raw)
    {
        var shown = raw.Replace("\0", "\\0");
        return shown.Length <= 120 ? shown : shown[..117] + "...";
    }
}

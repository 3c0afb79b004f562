using System.Diagnostics;
using Lighthouse.Interop;
using Microsoft.Win32.SafeHandles;

namespace Lighthouse.Tests;

/// <summary>
/// A chain of directories deeper than PATH_MAX below a root, made and walked one level at a time with *at calls: no
/// path to its bottom fits one system call. Linked into the test projects that need it.
/// </summary>
internal static class DeepTree
{
    /// <summary>45 names of 100 bytes: 4,544 bytes from the root to the bottom, past PATH_MAX (4,096).</summary>
    public static readonly string[] Names = Enumerable.Range(0, 45).Select(i => $"level{i:D2}".PadRight(100, 'd')).ToArray();

    /// <summary>The bottom directory's path relative to the root.</summary>
    public static string Path => string.Join('/', Names);

    /// <summary>Walks down from <paramref name="root"/> (making each directory first with <paramref name="create"/>);
    /// returns an O_PATH descriptor of the bottom directory.</summary>
    public static SafeFileHandle Walk(string root, bool create = false)
    {
        int dir = Libc.Open(root, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        foreach (var name in Names)
        {
            if (create && Libc.MkdirAt(dir, name, 0x1ed) != 0) throw new IOException($"mkdirat {name[..7]}: {Libc.ErrorText(Libc.Errno)}");
            int next = Libc.OpenAt(dir, name, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
            int errno = Libc.Errno;
            Libc.Close(dir);
            if (next < 0) throw new IOException($"openat {name[..7]}: {Libc.ErrorText(errno)}");
            dir = next;
        }
        return new SafeFileHandle(dir, ownsHandle: true);
    }

    /// <summary>Opens <paramref name="name"/> in the directory <paramref name="dir"/>.</summary>
    public static SafeFileHandle Open(SafeFileHandle dir, string name, int flags)
    {
        int fd = Libc.OpenAt((int)dir.DangerousGetHandle(), name, flags | Libc.O_CLOEXEC, 0x1a4);
        if (fd < 0) throw new IOException($"openat {name}: {Libc.ErrorText(Libc.Errno)}");
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>The content of <paramref name="name"/> in <paramref name="dir"/>, as text.</summary>
    public static string Read(SafeFileHandle dir, string name)
    {
        using var file = Open(dir, name, Libc.O_RDONLY);
        var bytes = new byte[RandomAccess.GetLength(file)];
        return System.Text.Encoding.UTF8.GetString(bytes, 0, RandomAccess.Read(file, bytes, 0));
    }

    /// <summary>Replaces the content of <paramref name="name"/> in <paramref name="dir"/> (creating it).</summary>
    public static void Write(SafeFileHandle dir, string name, string text)
    {
        using var file = Open(dir, name, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC);
        RandomAccess.Write(file, System.Text.Encoding.UTF8.GetBytes(text), 0);
    }

    /// <summary>Removes a tree .NET cannot (its paths are too long): rm walks it with *at calls.</summary>
    public static void Remove(string root)
    {
        using var rm = Process.Start("rm", ["-rf", root]);
        rm.WaitForExit();
    }
}

using System.Text;

namespace Lighthouse.Record.Tests.Workload;

/// <summary>A process that keeps one file open and appends a line to it every second (a log, a long build's
/// output): every write reaches the disk through the descriptor it opened, some of them after other changes.</summary>
public static class SlowWriter
{
    /// <summary>Prints "open" once the file is open (a test waits for it), then writes <paramref name="lines"/> lines.</summary>
    public static int Run(string path, int lines)
    {
        int fd = Libc.Open(path, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_APPEND | Libc.O_CLOEXEC, 0x1a4);
        if (fd < 0) { Console.Error.WriteLine($"open {path}: {Errno.Name(Libc.Errno)}"); return 1; }
        Console.WriteLine("open");
        Console.Out.Flush();
        for (int i = 1; i <= lines; i++)
        {
            Thread.Sleep(1000);
            var line = Encoding.ASCII.GetBytes($"line {i} at {DateTime.UtcNow:O}\n");
            unsafe
            {
                fixed (byte* p = line)
                    if (Libc.Write(fd, p, (nuint)line.Length) != line.Length)
                    {
                        Console.Error.WriteLine($"write {path}: {Errno.Name(Libc.Errno)}");
                        return 1;
                    }
            }
        }
        return Libc.Close(fd) == 0 ? 0 : 1;
    }
}

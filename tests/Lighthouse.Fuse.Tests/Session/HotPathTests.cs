using System.Runtime.InteropServices;
using Lighthouse.Interop;
using Lighthouse.Passthrough;

namespace Lighthouse.Fuse.Tests.Session;

public unsafe class HotPathTests
{
    private static string NewSource()
    {
        var dir = Path.Combine("/tmp/lighthouse-tests", "src-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    [Fact]
    public void Getattr_read_and_write_requests_allocate_nothing_on_the_worker_threads()
    {
        string source = NewSource();
        try
        {
            File.WriteAllBytes(Path.Combine(source, "data"), new byte[1 << 20]);
            // Zero timeouts and no kernel passthrough, so every stat/read/write reaches the daemon.
            var fs = new PassthroughFileSystem(source, new PassthroughOptions
            { KernelPassthrough = false, AttrTimeout = TimeSpan.Zero, EntryTimeout = TimeSpan.Zero, NegativeTimeout = TimeSpan.Zero });
            using var mount = new InProcessMount(fs);
            string file = mount.PathOf("data");
            var path = System.Text.Encoding.UTF8.GetBytes(file + "\0");
            byte* buffer = (byte*)NativeMemory.AlignedAlloc(4096, 4096);
            int fd;
            fixed (byte* p = path) fd = Libc.Open(p, Libc.O_RDWR | Libc.O_DIRECT, 0);
            Assert.True(fd >= 0, $"open failed: errno {Libc.Errno}");
            try
            {
                void Round(int count)
                {
                    StatxBuf st;
                    for (int i = 0; i < count; i++)
                    {
                        fixed (byte* p = path) Assert.Equal(0, Libc.Statx(Libc.AT_FDCWD, p, 0, Libc.STATX_BASIC_STATS, &st));
                        Assert.Equal(4096, (int)Libc.Pread(fd, buffer, 4096, (i % 256) * 4096L));
                        Assert.Equal(4096, (int)Libc.Pwrite(fd, buffer, 4096, (i % 256) * 4096L));
                    }
                }
                Round(2000); // warm-up: JIT, tiering, per-thread buffers, node table
                long bytesBefore = mount.Session.Stats.AllocatedBytes, requestsBefore = mount.Session.Stats.MeasuredRequests;
                Round(3000);
                long bytes = mount.Session.Stats.AllocatedBytes - bytesBefore;
                long requests = mount.Session.Stats.MeasuredRequests - requestsBefore;
                Assert.True(requests >= 9000, $"only {requests} requests reached the daemon: caching hid the hot path");
                // Tiered JIT may still compile a method now and then; anything per request would be >= 24 bytes × 9000.
                Assert.True(bytes < requests, $"{bytes} bytes allocated over {requests} hot-path requests ({(double)bytes / requests:0.00}/request)");
            }
            finally
            {
                Libc.Close(fd);
                NativeMemory.AlignedFree(buffer);
            }
        }
        finally { Directory.Delete(source, true); }
    }

    [Fact]
    public void The_node_table_shrinks_back_when_the_kernel_forgets_inodes()
    {
        string source = NewSource();
        try
        {
            var fs = new PassthroughFileSystem(source, new PassthroughOptions());
            using var mount = new InProcessMount(fs);
            const int files = 3000;
            for (int d = 0; d < 30; d++)
            {
                Directory.CreateDirectory(mount.PathOf($"d{d}"));
                for (int f = 0; f < files / 30; f++) File.WriteAllText(mount.PathOf($"d{d}/f{f}"), "x");
            }
            Assert.Equal(files, Directory.EnumerateFiles(mount.MountPoint, "*", SearchOption.AllDirectories).Count());
            Assert.True(fs.Nodes.Count > files, $"expected the kernel to know every file, table has {fs.Nodes.Count}");

            // Make the kernel drop its dentries and inodes: it sends FORGET / BATCH_FORGET for each.
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (fs.Nodes.Count > 100 && DateTime.UtcNow < deadline)
            {
                File.WriteAllText("/proc/sys/vm/drop_caches", "2");
                Thread.Sleep(200);
            }
            Assert.True(fs.Nodes.Count <= 100, $"{fs.Nodes.Count} nodes still held after the kernel forgot them");
            // Exact counts: nothing was dropped too early either — everything still resolves.
            Assert.Equal(files, Directory.EnumerateFiles(mount.MountPoint, "*", SearchOption.AllDirectories).Count());
            Assert.Equal("x", File.ReadAllText(mount.PathOf("d7/f42")));
        }
        finally { Directory.Delete(source, true); }
    }
}

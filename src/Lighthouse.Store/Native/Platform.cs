// The store uses Linux system calls (statx, FICLONE, inotify): it runs on Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

using System.Diagnostics;
using Lighthouse.Mount.Testing;
using Lighthouse.Store;

namespace Lighthouse.Cli.Tests;

/// <summary>Shell commands and `lighthouse` verbs run beside a test mount (as root, without an inherited token), and
/// the mount's events read whole, with how each agent was identified.</summary>
internal static class MountShell
{
    public sealed record Outcome(int Code, string Stdout, string Stderr)
    {
        public string Output => Stdout + Stderr;
        public void Must() => Assert.True(Code == 0, Output);
    }

    public static string CliDll(LighthouseMountFixture m) => Path.Combine(m.RepoRoot, ".build", "cli", "lighthouse.dll");

    public static Outcome Lh(LighthouseMountFixture m, string args) => Sh($"dotnet {CliDll(m)} {args}");

    public static Outcome Sh(string command, Dictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("/bin/sh", ["-c", command]) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        psi.Environment.Remove("LIGHTHOUSE_TOKEN");
        foreach (var (k, v) in environment ?? []) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException($"`{command}` did not finish"); }
        return new Outcome(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    public static List<StoreEvent> Events(LighthouseMountFixture m)
    {
        using var store = SqliteProjectStoreFactory.Instance.OpenReadOnly(m.Project, new StoreOptions { ReconcileOnOpen = false, CheckIntegrityOnOpen = false });
        var list = new List<StoreEvent>();
        for (var page = store.EventsAfter(0, 10_000); page.Count > 0; page = store.EventsAfter(list[^1].Seq, 10_000)) list.AddRange(page);
        return list;
    }
}

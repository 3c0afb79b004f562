using Lighthouse.Store;

namespace Lighthouse.Store.Tests;

/// <summary>
/// The state directory holds every recorded path, agent and time (lighthouse.db) and captured bytes (objects/): it is the
/// store owner's alone, 0700 with 0600 files, whatever the umask, and a store made before is tightened at open.
/// </summary>
public class StatePrivacyTests
{
    private const UnixFileMode Dir0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode File0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode Wide = UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private static readonly string[] StoreFiles = ["lighthouse.db", "lighthouse.db-wal", "lighthouse.db-shm", "lock"];

    [Fact]
    public void A_new_store_is_0700_with_0600_files_and_an_older_store_is_tightened_at_open()
    {
        using var project = new TempProject();
        var state = Path.Combine(project.Dir, StoreConstants.StateDirName);
        using (var store = project.Open())
        {
            project.Write("secret.txt", "password=hunter2\n");
            store.RecordCreate("nobody/editor", "secret.txt");
            // The test process's umask is 022: without the explicit modes these would be 0755 and 0644.
            Assert.Equal(Dir0700, File.GetUnixFileMode(state));
            foreach (var f in StoreFiles)
                Assert.True(File.GetUnixFileMode(Path.Combine(state, f)) == File0600, $"{f}: {File.GetUnixFileMode(Path.Combine(state, f))}");
        }
        // As a store made before the state directory was private left it.
        File.SetUnixFileMode(state, Dir0700 | Wide);
        foreach (var f in StoreFiles.Where(f => File.Exists(Path.Combine(state, f))))
            File.SetUnixFileMode(Path.Combine(state, f), File0600 | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        using (var store = project.Open())
        {
            store.RecordSetAttributes("nobody/editor", "secret.txt");
            Assert.Equal(Dir0700, File.GetUnixFileMode(state));
            foreach (var f in StoreFiles)
                Assert.True(File.GetUnixFileMode(Path.Combine(state, f)) == File0600, $"{f} after reopening: {File.GetUnixFileMode(Path.Combine(state, f))}");
        }
    }

    [Fact]
    public void Files_written_later_in_the_state_directory_are_0600()
    {
        using var project = new TempProject();
        var state = StateDirectory.Ensure(project.Dir);
        var file = Path.Combine(state, "mount.json");
        File.WriteAllText(file, "old");
        File.SetUnixFileMode(file, File0600 | UnixFileMode.OtherRead);
        StateDirectory.WritePrivate(file, "{}\n");
        Assert.Equal(File0600, File.GetUnixFileMode(file));
        Assert.Equal("{}\n", File.ReadAllText(file));
        Assert.Empty(Directory.GetFiles(state, "*.tmp"));
        using (StateDirectory.OpenPrivate(Path.Combine(state, "mount.log"), FileMode.Append, FileAccess.Write)) { }
        Assert.Equal(File0600, File.GetUnixFileMode(Path.Combine(state, "mount.log")));
    }
}

using Lighthouse.Store;

namespace Lighthouse.Store.Tests;

/// <summary>Objects hold bytes of files other users may not read: they are the store owner's alone.</summary>
public class ObjectPrivacyTests
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    [Fact]
    public void Objects_are_0400_in_directories_only_their_owner_can_enter_and_older_stores_are_tightened_at_open()
    {
        using var project = new TempProject();
        string objects = Path.Combine(project.Dir, StoreConstants.StateDirName, "objects");
        using (var store = project.Open())
        {
            // Symlink targets (and reflink clones, and versions captured before chunks) are whole object files.
            File.CreateSymbolicLink(project.Abs("secret-link"), "password=hunter2");
            store.RecordCreate("nobody/editor", "secret-link");
            var hash = store.Content("secret-link", StorePoint.Latest).Version.ContentHash!;
            string obj = Path.Combine(objects, hash[..2], hash[2..]);
            Assert.Equal(UnixFileMode.UserRead, File.GetUnixFileMode(obj));
            Assert.Equal(OwnerOnly, File.GetUnixFileMode(Path.GetDirectoryName(obj)!));
            Assert.Equal(OwnerOnly, File.GetUnixFileMode(objects));
            Assert.Equal(OwnerOnly, File.GetUnixFileMode(Path.Combine(objects, "tmp")));
            // As a store made before objects were private left them.
            File.SetUnixFileMode(Path.GetDirectoryName(obj)!, OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
                | UnixFileMode.OtherRead | UnixFileMode.OtherExecute | UnixFileMode.OtherWrite);
            File.SetUnixFileMode(objects, OwnerOnly | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        using (project.Open())
        {
            Assert.Equal(OwnerOnly, File.GetUnixFileMode(objects));
            foreach (var dir in Directory.EnumerateDirectories(objects)) Assert.Equal(OwnerOnly, File.GetUnixFileMode(dir));
        }
    }
}

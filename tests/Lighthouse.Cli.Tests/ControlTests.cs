using System.Net.Sockets;
using System.Text.Json.Nodes;
using Lighthouse.Cli.Commands;
using Lighthouse.Cli.Control;
using Lighthouse.Interop;

namespace Lighthouse.Cli.Tests;

public sealed class ControlTests
{
    private sealed record LiveStatus(string Protocol, string[] Features, bool KernelPassthrough, long RequestsServed, long EventsRecorded);

    private static LiveStatus Live() => new("7.44", ["AsyncRead", "Passthrough"], true, 1234, 56);

    [Fact]
    public void Server_answers_snapshot_create_delete_status_and_errors()
    {
        using var p = new TempProject();
        using var host = p.OpenHost();
        var store = host.Store;
        var socket = Path.Combine(p.Dir, ".lighthouse", "control.sock");
        using var server = new ControlServer(socket, host, () => Live());
        server.Start();
        Assert.True(Native.IsSocket(socket));

        using var client = ControlClient.Connect(socket);
        var created = client.Send(new JsonObject { ["op"] = "snapshot-create", ["name"] = "v1", ["agent"] = "root/lighthouse" });
        Assert.True(created["ok"]!.GetValue<bool>(), created.ToJsonString());
        Assert.Equal(store.LastSeq, created["seq"]!.GetValue<long>());
        Assert.Equal("v1", created["snapshot"]!["name"]!.GetValue<string>());
        Assert.Equal("root/lighthouse", created["snapshot"]!["createdBy"]!.GetValue<string>());
        Assert.Contains(store.Snapshots(), s => s.Name == "v1");

        var dup = client.Send(new JsonObject { ["op"] = "snapshot-create", ["name"] = "v1" });
        Assert.False(dup["ok"]!.GetValue<bool>());
        Assert.Contains("already exists", dup["error"]!.GetValue<string>());

        var status = client.Call(new JsonObject { ["op"] = "status" });
        Assert.Equal("7.44", status["mount"]!["protocol"]!.GetValue<string>());
        Assert.True(status["mount"]!["kernelPassthrough"]!.GetValue<bool>());
        Assert.Equal(56, status["mount"]!["eventsRecorded"]!.GetValue<long>());
        Assert.Equal(store.LastSeq, status["lastSeq"]!.GetValue<long>());

        var verify = client.Call(new JsonObject { ["op"] = "verify" });
        Assert.True(verify["verify"]!["ok"]!.GetValue<bool>());

        Assert.True(client.Call(new JsonObject { ["op"] = "snapshot-delete", ["name"] = "v1" })["ok"]!.GetValue<bool>());
        Assert.Empty(store.Snapshots());

        var unknown = client.Send(new JsonObject { ["op"] = "explode" });
        Assert.False(unknown["ok"]!.GetValue<bool>());
        Assert.Contains("unknown op 'explode'", unknown["error"]!.GetValue<string>());
        var missing = client.Send(new JsonObject { ["op"] = "snapshot-delete", ["name"] = "nope" });
        Assert.Equal("there is no snapshot named 'nope'", missing["error"]!.GetValue<string>());
        Assert.Equal("usage", missing["kind"]!.GetValue<string>());

        // Raw protocol: one JSON line in, one out; garbage gets an error line, the connection stays usable.
        using var raw = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        raw.Connect(new UnixDomainSocketEndPoint(socket));
        using var stream = new NetworkStream(raw);
        using var reader = new StreamReader(stream);
        using var writer = new StreamWriter(stream) { AutoFlush = true, NewLine = "\n" };
        writer.WriteLine("this is not json");
        Assert.StartsWith("{\"ok\":false,\"error\":\"bad request", reader.ReadLine());
        writer.WriteLine("{\"op\":\"ping\"}");
        Assert.Equal($"{{\"ok\":true,\"pid\":{Environment.ProcessId}}}", reader.ReadLine());
        Assert.True(server.RequestsServed >= 9);
    }

    [Fact]
    public void Another_users_read_verbs_withhold_what_it_could_not_read_and_its_snapshot_requests_are_refused()
    {
        using var p = new TempProject();
        using var host = p.OpenHost();
        var store = host.Store;
        // Private from its first version on (a version readable when it was recorded stays readable as of then).
        File.Delete(p.PathOf("src/a.txt"));
        store.RecordUnlink("root/editor", "src/a.txt");
        File.WriteAllText(p.PathOf("src/a.txt"), "password=hunter2\n");
        File.SetUnixFileMode(p.PathOf("src/a.txt"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        store.RecordCreate("root/editor", "src/a.txt");
        store.CaptureBeforeModify("root/editor", "src/a.txt");
        TempProject.Write((Lighthouse.Store.ProjectStore)store, "root/editor", "src/b.txt", "bee two\n");
        using var server = new ControlServer(Path.Combine(p.Dir, ".lighthouse", "control.sock"), host, () => Live()) { OwnerUid = 0 };
        // Our own process as the peer, with a uid that owns nothing here (its groups are ours: the files' group bits
        // grant nothing either: 0600 and 0644).
        var stranger = new PeerCredentials(Environment.ProcessId, 4242, 4242, "uid4242");

        string Out(JsonObject answer)
        {
            Assert.True(answer["ok"]!.GetValue<bool>(), answer.ToJsonString());
            return answer["out"]!.GetValue<string>() + answer["err"]!.GetValue<string>();
        }
        var diff = Out(server.Handle("""{"op":"diff","from":"@1","patch":true}""", stranger));
        Assert.DoesNotContain("hunter2", diff);
        Assert.Contains("withheld: no read permission as of @", diff);
        Assert.Contains("+bee two", diff);                      // a 0644 file: its patch is there
        var history = Out(server.Handle("""{"op":"history","path":"src/a.txt"}""", stranger));
        Assert.Contains("withheld (no read permission)", history);
        var hash = store.Content("src/a.txt", Lighthouse.Store.StorePoint.Latest).Version.ContentHash!;
        Assert.DoesNotContain(hash, Out(server.Handle("""{"op":"log","limit":100,"json":true}""", stranger)));
        Assert.DoesNotContain(hash, Out(server.Handle("""{"op":"history","path":"src/a.txt","json":true}""", stranger)));

        // The owner (and root) see it all, on the same socket.
        Assert.Contains("+password=hunter2", Out(server.Handle("""{"op":"diff","from":"@1","patch":true}""", stranger with { Uid = 0 })));
        Assert.Contains(hash, Out(server.Handle("""{"op":"log","limit":100,"json":true}""", null)));

        var refused = server.Handle("""{"op":"snapshot-create","name":"mine"}""", stranger);
        Assert.False(refused["ok"]!.GetValue<bool>());
        Assert.Equal("only the mount's owner (uid 0) and root may create snapshots; you are uid 4242", refused["error"]!.GetValue<string>());
        Assert.False(server.Handle("""{"op":"snapshot-delete","name":"mine"}""", stranger)["ok"]!.GetValue<bool>());
        Assert.Empty(store.Snapshots());
    }

    [Fact]
    public void Start_replaces_a_stale_socket_and_dispose_removes_it()
    {
        using var p = new TempProject();
        using var host = p.OpenHost();
        var store = host.Store;
        var socket = Path.Combine(p.Dir, ".lighthouse", "control.sock");
        // A socket file left by a crashed process: nobody listens on it. (.NET unlinks the files of the sockets it
        // binds when they are closed, so keep a second name for the inode and move it back.)
        var keep = socket + ".keep";
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            dead.Bind(new UnixDomainSocketEndPoint(socket));
            Assert.Equal(0, Libc.Link(socket, keep));
        }
        File.Move(keep, socket);
        Assert.True(Native.IsSocket(socket));

        var server = new ControlServer(socket, host, () => Live());
        server.Start();
        using (var second = new ControlServer(socket, host, () => Live()))
            Assert.Throws<IOException>(second.Start); // a live server is never replaced
        Assert.True(ControlClient.Connect(socket).Call(new JsonObject { ["op"] = "ping" })["ok"]!.GetValue<bool>());
        server.Dispose();
        Assert.False(Native.IsSocket(socket));

        File.WriteAllText(socket, "not a socket");
        using var third = new ControlServer(socket, host, () => Live());
        Assert.Throws<IOException>(third.Start);
    }

    [Fact]
    public void Verbs_go_through_the_control_socket_while_mounted()
    {
        using var p = new TempProject();
        using var host = p.OpenHost();
        var store = host.Store; // held by the "mount"
        var socket = Path.Combine(p.Dir, ".lighthouse", "control.sock");
        using var server = new ControlServer(socket, host, () => Live());
        server.Start();
        new MountState(Environment.ProcessId, "/mnt/lighthouse/test", p.Dir, DateTime.UtcNow, "7.40", ["AsyncRead"], false, socket).Write(p.Dir);
        try
        {
            var created = p.Cli("snapshot", "create", "through-mount");
            Assert.True(created.Code == 0, created.ToString());
            Assert.Contains("recorded by the mount as event @", created.Out);
            var snapshot = Assert.Single(store.Snapshots());
            Assert.Equal(CliContext.Agent, snapshot.CreatedBy);

            var list = p.Cli("snapshot", "list");
            Assert.Contains("through-mount", list.Out);

            var status = p.Cli("status");
            Assert.True(status.Code == 0, status.ToString());
            Assert.Matches(@"mounted:\s+yes, on /mnt/lighthouse/test \(pid " + Environment.ProcessId, status.Out);
            Assert.Contains("FUSE 7.44", status.Out); // live, not mount.json's 7.40
            Assert.Contains("AsyncRead Passthrough", status.Out);
            Assert.Contains("on (kernel FUSE passthrough)", status.Out);
            Assert.Contains("eventsRecorded:", status.Out);

            var verify = p.Cli("status", "--verify", "--json");
            Assert.Contains("full (by the mount)", verify.Out);

            var dup = p.Cli("snapshot", "create", "through-mount");
            Assert.Equal(ExitCodes.Usage, dup.Code);
            Assert.Contains("already exists", dup.Err);

            Assert.Equal(0, p.Cli("snapshot", "delete", "through-mount").Code);
            Assert.Empty(store.Snapshots());
        }
        finally
        {
            MountState.Delete(p.Dir);
        }
    }
}

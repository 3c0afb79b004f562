using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Lighthouse.Store;

namespace Lighthouse.Project.Agents;

/// <summary>A named agent: its role (what the policy matches on) and when it was added.</summary>
public sealed record NamedAgent(string Name, string? Role, DateTime CreatedUtc);

/// <summary>A token issued to an agent (its secret part is never stored: the token is checked by its signature).</summary>
public sealed record AgentToken(string Id, string Agent, DateTime CreatedUtc, DateTime ExpiresUtc, DateTime? RevokedUtc, string? Note);

/// <summary>Why a token was refused (or <see cref="Valid"/>).</summary>
public enum TokenCheck { Valid, Malformed, BadSignature, Expired, Revoked, UnknownAgent }

/// <summary>
/// The project's named agents, their tokens and the uids mapped to them: <c>.lighthouse/agents.json</c> and the
/// HMAC key that signs tokens, <c>.lighthouse/agent.key</c> (both 0600 in the owner's private state directory).
/// A file rather than tables of the store: the CLI edits it whether or not the project is mounted (the mount holds
/// the store's lock), and the mount picks the change up (<see cref="Refresh"/>) without being asked.
/// <para>
/// A token is <c>lh1.&lt;agent&gt;.&lt;id&gt;.&lt;expiry, Unix seconds&gt;.&lt;HMAC-SHA256 of the rest, base64url&gt;</c>,
/// signed with the project's key: a forged token, or one of another project, fails the signature; an expired one
/// fails its date; a revoked one, or one of an agent since removed, fails the registry.
/// </para>
/// </summary>
public sealed class AgentRegistry
{
    public const string FileName = "agents.json";
    public const string KeyFileName = "agent.key";
    private const string TokenPrefix = "lh1";
    /// <summary>Names the log already uses for something else: never a named agent's.</summary>
    private static readonly HashSet<string> Reserved =
        [StoreConstants.ExternalAgent, StoreConstants.RepairAgent, "kernel", "lighthouse", "self", "index.json", "system"];

    private readonly string _file, _keyFile, _lockFile;
    private readonly Lock _gate = new();
    private Snapshot _current = Snapshot.Empty;
    private (long Ino, long Size, long MtimeNs)? _seen;
    private byte[]? _key;

    public AgentRegistry(string projectDir)
    {
        var state = StateDirectory.PathOf(projectDir);
        _file = Path.Combine(state, FileName);
        _keyFile = Path.Combine(state, KeyFileName);
        _lockFile = Path.Combine(state, "agents.lock");
        Refresh();
        _loaded = true; // from here on, changes are reported against what was there when this instance was made
    }

    /// <summary>Raised (outside the registry's lock) with what changed, in words, whenever a look at the file finds it
    /// changed since the last look of this instance: "added agent 'builder' (role builder)", "token 3f9a… issued for
    /// 'builder' until …", "token 3f9a… revoked", "uid 1001 mapped to 'reviewer'" — for the mount to record.</summary>
    public event Action<IReadOnlyList<string>>? Changed;

    /// <summary>Raised once when a look finds the file changed but unreadable (what was in force stays): whoever looked,
    /// the server that owns the registry says it once.</summary>
    public event Action<AgentRegistryException>? Unreadable;

    /// <summary>Bumped whenever what the file says changes (a cache of resolved callers is then stale).</summary>
    public long Generation { get; private set; }

    /// <summary>When the registry last changed (the file's modification time), for the mount's agents/ files.</summary>
    public DateTime ChangedUtc => _current.ChangedUtc;

    public IReadOnlyList<NamedAgent> Agents => _current.Agents;
    public IReadOnlyList<AgentToken> Tokens => _current.Tokens;
    public IReadOnlyDictionary<uint, string> UidMap => _current.Uids;

    public NamedAgent? Find(string name) => _current.Agents.FirstOrDefault(a => a.Name == name);

    /// <summary>Re-reads the file if it changed since last read; true when it did.</summary>
    /// <exception cref="AgentRegistryException">the file exists but cannot be read as a registry (what is in force stays).</exception>
    public bool Refresh()
    {
        IReadOnlyList<string> changes;
        lock (_gate)
        {
            var stamp = Stamp(_file);
            if (stamp == _seen) return false;
            _seen = stamp; // a damaged file is reported once, not at every look, until it changes again
            var before = _current;
            try { _current = stamp is null ? Snapshot.Empty : Load(_file); }
            catch (AgentRegistryException e)
            {
                Unreadable?.Invoke(e);
                throw;
            }
            Generation++;
            changes = _loaded ? Differences(before, _current) : [];
            _loaded = true;
        }
        if (changes.Count > 0) Changed?.Invoke(changes);
        return true;
    }

    private bool _loaded;

    /// <summary>What changed between two states of the registry, in words (token ids, never their text).</summary>
    private static List<string> Differences(Snapshot before, Snapshot after)
    {
        var changes = new List<string>();
        foreach (var a in after.Agents.Where(a => !before.Agents.Any(b => b.Name == a.Name)))
            changes.Add($"added agent '{a.Name}'{(a.Role is null ? "" : $" (role {a.Role})")}");
        foreach (var b in before.Agents.Where(b => !after.Agents.Any(a => a.Name == b.Name)))
            changes.Add($"removed agent '{b.Name}'");
        foreach (var a in after.Agents)
            if (before.Agents.FirstOrDefault(b => b.Name == a.Name) is { } b && b.Role != a.Role)
                changes.Add($"agent '{a.Name}' role {b.Role ?? "(none)"} -> {a.Role ?? "(none)"}");
        foreach (var t in after.Tokens)
        {
            var old = before.Tokens.FirstOrDefault(x => x.Id == t.Id);
            if (old is null)
                changes.Add($"token {t.Id} issued for '{t.Agent}' until {t.ExpiresUtc:yyyy-MM-ddTHH:mm:ssZ}{(t.Note is null ? "" : $" ({t.Note})")}");
            else if (old.RevokedUtc is null && t.RevokedUtc is not null)
                changes.Add($"token {t.Id} of '{t.Agent}' revoked");
        }
        foreach (var (uid, name) in after.Uids)
            if (!before.Uids.TryGetValue(uid, out var was) || was != name) changes.Add($"uid {uid} mapped to '{name}'");
        foreach (var (uid, name) in before.Uids)
            if (!after.Uids.ContainsKey(uid)) changes.Add($"uid {uid} unmapped (was '{name}')");
        return changes;
    }

    // ------------------------------------------------------------------ changes (the owner's CLI)

    public NamedAgent Add(string name, string? role)
    {
        CheckName(name);
        if (role is not null) CheckName(role, "role");
        return Change(s =>
        {
            if (s.Agents.Any(a => a.Name == name)) throw new AgentRegistryException($"there is already an agent named '{name}'");
            var agent = new NamedAgent(name, role, DateTime.UtcNow);
            return (s with { Agents = [.. s.Agents, agent] }, agent);
        });
    }

    /// <summary>Removes an agent, revokes its tokens and unmaps its uids; its events keep its name.</summary>
    public void Remove(string name) => Change(s =>
    {
        if (!s.Agents.Any(a => a.Name == name)) throw new AgentRegistryException($"there is no agent named '{name}'");
        var now = DateTime.UtcNow;
        return (s with
        {
            Agents = [.. s.Agents.Where(a => a.Name != name)],
            Tokens = [.. s.Tokens.Select(t => t.Agent == name && t.RevokedUtc is null ? t with { RevokedUtc = now } : t)],
            Uids = s.Uids.Where(u => u.Value != name).ToDictionary(),
        }, 0);
    });

    /// <summary>Issues a token for <paramref name="name"/> valid for <paramref name="lifetime"/>; returns the token text.</summary>
    public (AgentToken Token, string Text) IssueToken(string name, TimeSpan lifetime, string? note = null)
    {
        if (lifetime <= TimeSpan.Zero) throw new AgentRegistryException("a token's lifetime must be positive");
        var key = Key(create: true)!;
        return Change(s =>
        {
            if (!s.Agents.Any(a => a.Name == name)) throw new AgentRegistryException($"there is no agent named '{name}' (add it first: lighthouse agent add {name})");
            var now = DateTime.UtcNow;
            var expires = DateTime.UnixEpoch.AddSeconds(Math.Floor((now + lifetime - DateTime.UnixEpoch).TotalSeconds));
            // Tokens expired for a month are forgotten: the file does not grow with every run.
            var token = new AgentToken(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)), name, now, expires, null, note);
            return (s with { Tokens = [.. s.Tokens.Where(t => t.ExpiresUtc > now.AddDays(-30)), token] },
                (token, Sign(key, name, token.Id, expires)));
        });
    }

    /// <summary>Revokes a token named by its id or its whole text; returns how many were revoked (0 or 1).</summary>
    public int Revoke(string idOrToken)
    {
        var id = idOrToken.StartsWith(TokenPrefix + ".", StringComparison.Ordinal) && idOrToken.Split('.') is { Length: 5 } parts ? parts[2] : idOrToken;
        return Change(s =>
        {
            var found = s.Tokens.FirstOrDefault(t => t.Id == id) ?? throw new AgentRegistryException($"there is no token '{id}'");
            if (found.RevokedUtc is not null) return (s, 0);
            return (s with { Tokens = [.. s.Tokens.Select(t => t.Id == id ? t with { RevokedUtc = DateTime.UtcNow } : t)] }, 1);
        });
    }

    public void MapUid(uint uid, string name) => Change(s =>
    {
        if (!s.Agents.Any(a => a.Name == name)) throw new AgentRegistryException($"there is no agent named '{name}'");
        var uids = new Dictionary<uint, string>(s.Uids) { [uid] = name };
        return (s with { Uids = uids }, 0);
    });

    public bool UnmapUid(uint uid) => Change(s =>
    {
        if (!s.Uids.ContainsKey(uid)) return (s, false);
        return (s with { Uids = s.Uids.Where(u => u.Key != uid).ToDictionary() }, true);
    });

    // ------------------------------------------------------------------ tokens

    /// <summary>Checks a token against this project's key and registry: which agent it names, or why it is refused.</summary>
    public (TokenCheck Result, NamedAgent? Agent, AgentToken? Token) Check(string text, DateTime? now = null)
    {
        var parts = text.Trim().Split('.');
        if (parts.Length != 5 || parts[0] != TokenPrefix || !long.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var exp))
            return (TokenCheck.Malformed, null, null);
        var key = Key(create: false);
        if (key is null) return (TokenCheck.BadSignature, null, null);
        var expected = Encoding.ASCII.GetBytes(Sign(key, parts[1], parts[2], DateTime.UnixEpoch.AddSeconds(exp)));
        if (!CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(text.Trim()))) return (TokenCheck.BadSignature, null, null);
        var snapshot = _current;
        var token = snapshot.Tokens.FirstOrDefault(t => t.Id == parts[2] && t.Agent == parts[1]);
        if (DateTime.UnixEpoch.AddSeconds(exp) <= (now ?? DateTime.UtcNow)) return (TokenCheck.Expired, null, token);
        if (token is null || token.RevokedUtc is not null) return (TokenCheck.Revoked, null, token);
        var agent = snapshot.Agents.FirstOrDefault(a => a.Name == parts[1]);
        return agent is null ? (TokenCheck.UnknownAgent, null, token) : (TokenCheck.Valid, agent, token);
    }

    private static string Sign(byte[] key, string agent, string id, DateTime expiresUtc)
    {
        var body = $"{TokenPrefix}.{agent}.{id}.{(long)(expiresUtc - DateTime.UnixEpoch).TotalSeconds}";
        var mac = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(body));
        return body + "." + Convert.ToBase64String(mac).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary>The project's signing key; made (32 random bytes, 0600) on first use when <paramref name="create"/>.</summary>
    private byte[]? Key(bool create)
    {
        lock (_gate)
        {
            if (_key is not null) return _key;
            try
            {
                if (File.Exists(_keyFile)) return _key = File.ReadAllBytes(_keyFile) is { Length: >= 32 } k ? k : throw new AgentRegistryException($"{_keyFile} is damaged (shorter than 32 bytes)");
            }
            catch (UnauthorizedAccessException) { return null; } // not the owner: cannot check tokens
            if (!create) return null;
            StateDirectory.MakePrivateDirectory(Path.GetDirectoryName(_keyFile)!);
            var key = RandomNumberGenerator.GetBytes(32);
            using (var f = StateDirectory.OpenPrivate(_keyFile, FileMode.CreateNew, FileAccess.Write)) { f.Write(key); f.Flush(true); }
            return _key = key;
        }
    }

    /// <summary>Checks a name an agent (or role) may take: letters, digits, '-' and '_', up to 64, not a reserved word.</summary>
    public static void CheckName(string name, string what = "agent name")
    {
        if (string.IsNullOrEmpty(name) || name.Length > 64 || !char.IsAsciiLetterOrDigit(name[0]) ||
            !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            throw new AgentRegistryException($"'{name}' is not a valid {what}: use 1-64 letters, digits, '-' or '_', starting with a letter or digit");
        if (what == "agent name" && Reserved.Contains(name)) throw new AgentRegistryException($"'{name}' is reserved; choose another agent name");
    }

    // ------------------------------------------------------------------ the file

    /// <summary>Applies a change under the registry's lock (another CLI may be changing it too) and writes the file atomically.</summary>
    private T Change<T>(Func<Snapshot, (Snapshot Next, T Result)> change)
    {
        StateDirectory.MakePrivateDirectory(Path.GetDirectoryName(_file)!);
        using var held = LockFile();
        T outcome;
        IReadOnlyList<string> changes;
        lock (_gate)
        {
            var known = _current;
            var stamp = Stamp(_file);
            var current = stamp is null ? Snapshot.Empty : Load(_file);
            var (next, result) = change(current);
            if (!ReferenceEquals(next, current))
            {
                var temp = _file + ".tmp";
                using (var f = StateDirectory.OpenPrivate(temp, FileMode.Create, FileAccess.Write))
                {
                    JsonSerializer.Serialize(f, FileForm.Of(next), Json);
                    f.Flush(true);
                }
                File.Move(temp, _file, overwrite: true);
            }
            _current = Load(_file);
            _seen = Stamp(_file);
            Generation++;
            // What this instance knew before (it may have missed another process's change too) against what is now.
            changes = _loaded ? Differences(known, _current) : [];
            _loaded = true;
            outcome = result;
        }
        if (changes.Count > 0) Changed?.Invoke(changes);
        return outcome;
    }

    private FileStream LockFile()
    {
        for (int attempt = 0; ; attempt++)
        {
            try { return StateDirectory.OpenPrivate(_lockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (attempt < 100) { Thread.Sleep(50); }
            catch (IOException e) { throw new AgentRegistryException($"the agent registry is locked by another lighthouse command ({e.Message})"); }
        }
    }

    private static (long, long, long)? Stamp(string path)
    {
        var a = Store.NodeAttributes.Of(path);
        return a is null ? null : (a.Inode, a.Size, a.MtimeNs);
    }

    private static Snapshot Load(string path)
    {
        FileForm? form;
        try { form = JsonSerializer.Deserialize<FileForm>(File.ReadAllText(path), Json); }
        catch (JsonException e) { throw new AgentRegistryException($"{path} is not a valid agent registry: {e.Message}"); }
        catch (UnauthorizedAccessException) { throw new AgentRegistryException($"{path} can only be read by the project's owner"); }
        if (form is null) return Snapshot.Empty;
        var changed = File.GetLastWriteTimeUtc(path);
        var agents = (form.Agents ?? []).Select(a => new NamedAgent(a.Name ?? throw Bad(path, "an agent without a name"), a.Role, a.Created)).ToList();
        var tokens = (form.Tokens ?? []).Select(t => new AgentToken(t.Id ?? throw Bad(path, "a token without an id"), t.Agent ?? "", t.Created, t.Expires, t.Revoked, t.Note)).ToList();
        var uids = new Dictionary<uint, string>();
        foreach (var (uid, name) in form.Uids ?? [])
            uids[uint.TryParse(uid, NumberStyles.None, CultureInfo.InvariantCulture, out var u) ? u : throw Bad(path, $"uid '{uid}' is not a number")] = name;
        return new Snapshot(agents, tokens, uids, changed);
    }

    private static AgentRegistryException Bad(string path, string what) => new($"{path} is not a valid agent registry: {what}");

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase, WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private sealed record Snapshot(IReadOnlyList<NamedAgent> Agents, IReadOnlyList<AgentToken> Tokens, IReadOnlyDictionary<uint, string> Uids, DateTime ChangedUtc)
    {
        public static readonly Snapshot Empty = new([], [], new Dictionary<uint, string>(), DateTime.UnixEpoch);
    }

    /// <summary>The file's JSON: readable and editable by hand.</summary>
    private sealed class FileForm
    {
        public int Version { get; set; } = 1;
        public List<AgentForm>? Agents { get; set; }
        public List<TokenForm>? Tokens { get; set; }
        public Dictionary<string, string>? Uids { get; set; }

        public static FileForm Of(Snapshot s) => new()
        {
            Agents = [.. s.Agents.Select(a => new AgentForm { Name = a.Name, Role = a.Role, Created = a.CreatedUtc })],
            Tokens = [.. s.Tokens.Select(t => new TokenForm { Id = t.Id, Agent = t.Agent, Created = t.CreatedUtc, Expires = t.ExpiresUtc, Revoked = t.RevokedUtc, Note = t.Note })],
            Uids = s.Uids.ToDictionary(u => u.Key.ToString(CultureInfo.InvariantCulture), u => u.Value),
        };
    }

    private sealed class AgentForm
    {
        public string? Name { get; set; }
        public string? Role { get; set; }
        public DateTime Created { get; set; }
    }

    private sealed class TokenForm
    {
        public string? Id { get; set; }
        public string? Agent { get; set; }
        public DateTime Created { get; set; }
        public DateTime Expires { get; set; }
        public DateTime? Revoked { get; set; }
        public string? Note { get; set; }
    }
}

/// <summary>The agent registry cannot do what was asked, or its file cannot be read (a clear message for the user).</summary>
public sealed class AgentRegistryException(string message) : StoreException(message);

using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Lighthouse.Store;

namespace Lighthouse.Project.Feed;

/// <summary>
/// The one-line JSON form of an event that <c>streams/</c> files and server-sent events both send, e.g.
/// <c>{"seq":42,"time":"2026-11-25T10:30:00.1234567Z","agent":"alice/vim","agentVia":"fallback","op":"write","path":"src/a.c","kind":"file","size":120,"mode":"644","mtimeNs":…,"content":"captured","contentHash":"…","hash":"…"}</c>.
/// The same fields and names as <c>lighthouse log --json</c>; fields that do not apply are left out. A gap is <c>{"gap":{"first":10,"last":20}}</c>.
/// </summary>
public static class FeedFormat
{
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The item as one line of UTF-8 JSON, ending with '\n'.</summary>
    public static byte[] ToUtf8JsonLine(FeedItem item)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, Options))
        {
            if (item.Event is { } e) Write(w, e);
            else WriteGap(w, item.GapFirst, item.GapLast);
        }
        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The item as one line of JSON, ending with '\n'.</summary>
    public static string ToJsonLine(FeedItem item) => Encoding.UTF8.GetString(ToUtf8JsonLine(item));

    /// <summary>The event as one line of JSON, ending with '\n'.</summary>
    public static string ToJsonLine(StoreEvent e) => ToJsonLine(FeedItem.Of(e));

    public static void Write(Utf8JsonWriter w, StoreEvent e)
    {
        w.WriteStartObject();
        w.WriteNumber("seq", e.Seq);
        w.WriteString("time", e.TimeUtc.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture));
        w.WriteString("agent", e.Agent);
        if (e.AgentVia is not null) w.WriteString("agentVia", e.AgentVia);
        w.WriteString("op", EventOpNames.Name(e.Op));
        w.WriteString("path", e.Path);
        if (e.Path2 is not null) w.WriteString("path2", e.Path2);
        w.WriteNumber("fileId", e.FileId);
        if (e.Attributes is { } a)
        {
            w.WriteString("kind", a.Kind.ToString().ToLowerInvariant());
            w.WriteNumber("size", a.Size);
            w.WriteString("mode", Convert.ToString(a.Mode, 8));
            w.WriteNumber("mtimeNs", a.MtimeNs);
            w.WriteNumber("uid", a.Uid);
            w.WriteNumber("gid", a.Gid);
            if (a.Kind is FileKind.CharDevice or FileKind.BlockDevice) w.WriteNumber("rdev", a.Rdev);
        }
        if (e.ContentState != ContentState.None) w.WriteString("content", ContentName(e.ContentState));
        if (e.ContentHash is not null) w.WriteString("contentHash", e.ContentHash);
        if (e.Point is { } point) w.WriteNumber("point", point);
        if (e.Detail is not null)
        {
            // A JSON object written by the store's own callers; kept as it is (a damaged one as text, never a broken line).
            w.WritePropertyName("detail");
            try { w.WriteRawValue(e.Detail); }
            catch (JsonException) { w.WriteStringValue(e.Detail); }
        }
        w.WriteString("hash", Convert.ToHexStringLower(e.Hash));
        w.WriteEndObject();
    }

    public static void WriteGap(Utf8JsonWriter w, long first, long last)
    {
        w.WriteStartObject();
        w.WriteStartObject("gap");
        w.WriteNumber("first", first);
        w.WriteNumber("last", last);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>Operation names as <c>lighthouse log</c> prints them.</summary>
    private static string ContentName(ContentState s) => s switch
    {
        ContentState.Captured => "captured",
        ContentState.NotCaptured => "metadata-only",
        ContentState.TooLarge => "too-large",
        _ => "none",
    };
}

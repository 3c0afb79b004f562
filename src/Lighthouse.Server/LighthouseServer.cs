using System.Text.Json;
using Lighthouse.Project;
using Lighthouse.Project.Feed;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lighthouse.Server;

/// <summary>
/// The HTTP API of one project, served by Kestrel inside the process that holds its <see cref="ProjectHost"/> (the
/// mount's, or <c>lighthouse serve</c>'s), so what it writes goes through the same recorder and shows in a running
/// mount's current/ at once. Routes: see <see cref="ApiRoutes"/>. Start with <see cref="StartAsync"/>, stop by disposing.
/// </summary>
public sealed class LighthouseServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly EventFeed _feed;

    private LighthouseServer(WebApplication app, EventFeed feed, IReadOnlyList<string> addresses)
    {
        _app = app;
        _feed = feed;
        Addresses = addresses;
    }

    /// <summary>Where it listens: http://127.0.0.1:PORT (the port bound, when 0 was asked for) or unix:/path.</summary>
    public IReadOnlyList<string> Addresses { get; }

    /// <summary>Starts listening; returns once the socket is bound.</summary>
    /// <exception cref="ArgumentException">the listen address is malformed, or not loopback without <see cref="ServerOptions.AllowNonLoopback"/>.</exception>
    /// <exception cref="IOException">the address cannot be bound (in use, no permission).</exception>
    public static async Task<LighthouseServer> StartAsync(ProjectHost host, ServerOptions options, CancellationToken cancellationToken = default)
    {
        var listen = ListenAddress.Parse(options.Listen, options.AllowNonLoopback);
        var log = options.Log ?? (line => Console.Error.WriteLine("lighthouse: " + line));
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "Lighthouse.Server", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new LineLoggerProvider(log));
        builder.Services.AddProblemDetails();
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.CamelCase);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            // The file service reads request bodies and files synchronously (it is shared with MCP, which is not async).
            k.AllowSynchronousIO = true;
            if (listen.UnixSocket is { } socket)
            {
                // A stale socket of an earlier run is replaced; any other file there is left alone (binding then fails, saying so).
                if (Lighthouse.Store.NodeAttributes.Of(socket) is { Kind: Lighthouse.Store.FileKind.Socket }) File.Delete(socket);
                k.ListenUnixSocket(socket);
            }
            else k.Listen(listen.Tcp!);
        });
        Mcp.McpEndpoint.AddServices(builder.Services, host);
        var app = builder.Build();
        var feed = new EventFeed(host.Store);
        try
        {
            Mcp.McpEndpoint.Map(app, host);
            ApiRoutes.Map(app, host, feed, options);
            try { await app.StartAsync(cancellationToken).ConfigureAwait(false); }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or InvalidOperationException)
            {
                throw new IOException($"cannot listen on {options.Listen}: {e.GetBaseException().Message}", e);
            }
            var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];
            if (listen.UnixSocket is { } path) bound = ["unix:" + path];
            return new LighthouseServer(app, feed, bound);
        }
        catch
        {
            feed.Dispose();
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stops listening: streams in progress end, requests in progress get a moment to finish.</summary>
    public async ValueTask DisposeAsync()
    {
        _feed.Dispose(); // ends every event stream
        try { await _app.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(5)).Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Kestrel's and ASP.NET's warnings and errors, as lines of the process's log (information and below are dropped).</summary>
    private sealed class LineLoggerProvider(Action<string> log) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new LineLogger(log);
        public void Dispose() { }

        private sealed class LineLogger(Action<string> log) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (!IsEnabled(logLevel)) return;
                log($"http: {formatter(state, exception)}{(exception is null ? "" : ": " + exception.GetBaseException().Message)}");
            }
        }
    }
}

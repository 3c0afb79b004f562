using System.Globalization;

namespace Lighthouse.Record.Tests.Support;

/// <summary>The seed of a randomized test: LIGHTHOUSE_TEST_SEED to replay one, else a new one (printed by the test).</summary>
internal static class TestSeed
{
    public static int Get() => Number("LIGHTHOUSE_TEST_SEED") ?? Random.Shared.Next(1, 1_000_000);

    /// <summary>A seed for a randomized test, and the line every failure of it starts with (how to replay it),
    /// also written to the test's output at once.</summary>
    public static (int Seed, string Context) Start(Xunit.Abstractions.ITestOutputHelper output, string run)
    {
        int seed = Get();
        string context = $"seed {seed} (LIGHTHOUSE_TEST_SEED={seed} replays it), {run}\n";
        output.WriteLine(context);
        return (seed, context);
    }

    public static int? Number(string variable) =>
        int.TryParse(Environment.GetEnvironmentVariable(variable), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) ? n : null;
}

using System.Globalization;

namespace Lighthouse.Record.Tests.Support;

/// <summary>The seed of a randomized test: LIGHTHOUSE_TEST_SEED to replay one, else a new one (printed by the test).</summary>
internal static class TestSeed
{
    public static int Get() => Number("LIGHTHOUSE_TEST_SEED") ?? Random.Shared.Next(1, 1_000_000);

    public static int? Number(string variable) =>
        int.TryParse(Environment.GetEnvironmentVariable(variable), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) ? n : null;
}

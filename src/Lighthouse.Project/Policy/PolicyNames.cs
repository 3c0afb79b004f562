namespace Lighthouse.Project.Policy;

/// <summary>The words policy.yaml uses for modes, effects and operations, both ways, so parsing and describing agree.</summary>
internal static class PolicyNames
{
    public static readonly string[] Modes = ["enforce", "audit"];
    public static readonly string[] Effects = ["allow", "deny", "hide", "read-only"];
    public static readonly string[] Operations = ["read", "list", "write", "create", "delete", "rename", "meta"];

    public static string Of(PolicyMode mode) => Modes[(int)mode];
    public static string Of(PolicyEffect effect) => Effects[(int)effect];
    public static string Of(PolicyOperation operation) => Operations[(int)operation];

    /// <summary>The index of <paramref name="word"/> in <paramref name="words"/> (exact, case-sensitive), or -1.</summary>
    public static int Find(string[] words, string word) => Array.IndexOf(words, word);
}

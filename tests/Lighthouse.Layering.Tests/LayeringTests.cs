using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Lighthouse.Layering.Tests;

/// <summary>
/// The layers of DESIGN.md, checked on the project files themselves: each layer references only the
/// layers below it, and the README's layout table says exactly what the project files say.
/// </summary>
public sealed partial class LayeringTests
{
    /// <summary>What each of our projects may reference (DESIGN.md "Layers"): a project missing here is a failure too.</summary>
    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["Lighthouse.Fuse"] = [],
        ["Lighthouse.Store"] = [],
        ["Lighthouse.Passthrough"] = ["Lighthouse.Fuse"],
        ["Lighthouse.Project"] = ["Lighthouse.Store"],
        ["Lighthouse.FileSystem"] = ["Lighthouse.Fuse", "Lighthouse.Passthrough", "Lighthouse.Project", "Lighthouse.Store"],
        ["Lighthouse.Server"] = ["Lighthouse.Project", "Lighthouse.Store"],
        ["Lighthouse.Cli"] = ["Lighthouse.Fuse", "Lighthouse.Passthrough", "Lighthouse.Project", "Lighthouse.Store", "Lighthouse.FileSystem", "Lighthouse.Server"],
    };

    private static readonly string Root = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Lighthouse.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"no Lighthouse.slnx above {AppContext.BaseDirectory}");
    }

    /// <summary>Our projects under src/ and the names of our projects each references.</summary>
    private static Dictionary<string, SortedSet<string>> References()
    {
        var result = new Dictionary<string, SortedSet<string>>();
        foreach (var csproj in Directory.EnumerateFiles(Path.Combine(Root, "src"), "*.csproj", SearchOption.AllDirectories))
        {
            var refs = XDocument.Load(csproj).Descendants("ProjectReference")
                .Select(r => Path.GetFileNameWithoutExtension(r.Attribute("Include")!.Value.Replace('\\', '/')));
            result[Path.GetFileNameWithoutExtension(csproj)] = new SortedSet<string>(refs, StringComparer.Ordinal);
        }
        return result;
    }

    [Fact]
    public void Every_layer_references_only_the_layers_below_it()
    {
        var wrong = new List<string>();
        foreach (var (project, refs) in References())
        {
            if (!Allowed.TryGetValue(project, out var allowed)) { wrong.Add($"{project}: not a known layer (add it to DESIGN.md and to this test)"); continue; }
            foreach (var r in refs.Except(allowed)) wrong.Add($"{project} must not reference {r}");
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void No_layer_lets_another_see_its_internals()
    {
        // Internals shared upwards would be a reference in disguise; tests may see their own project's.
        var wrong = new List<string>();
        foreach (var csproj in Directory.EnumerateFiles(Path.Combine(Root, "src"), "*.csproj", SearchOption.AllDirectories))
        {
            string project = Path.GetFileNameWithoutExtension(csproj);
            foreach (var friend in XDocument.Load(csproj).Descendants("InternalsVisibleTo").Select(e => e.Attribute("Include")!.Value))
                if (friend != project + ".Tests") wrong.Add($"{project} shows its internals to {friend}");
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void The_readme_layout_table_says_what_the_project_files_say()
    {
        var readme = File.ReadAllText(Path.Combine(Root, "README.md"));
        var documented = new Dictionary<string, SortedSet<string>>();
        foreach (Match row in LayoutRow().Matches(readme))
        {
            var refs = row.Groups["refs"].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Where(r => r != "—").Select(r => "Lighthouse." + r.Trim('`'));
            documented["Lighthouse." + row.Groups["name"].Value] = new SortedSet<string>(refs, StringComparer.Ordinal);
        }
        var actual = References();
        Assert.Equal(actual.Keys.Order(), documented.Keys.Order());
        foreach (var (project, refs) in actual)
            Assert.True(refs.SetEquals(documented[project]),
                $"README says {project} references [{string.Join(", ", documented[project])}], its project file says [{string.Join(", ", refs)}]");
    }

    // | `src/Lighthouse.Fuse` | — | ... |   or   | `src/Lighthouse.Project` | `Store` | ... |
    [GeneratedRegex(@"^\| `src/Lighthouse\.(?<name>[A-Za-z]+)` \| (?<refs>[^|]*) \|", RegexOptions.Multiline)]
    private static partial Regex LayoutRow();
}

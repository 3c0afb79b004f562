using Lighthouse.Project.Policy;

namespace Lighthouse.Project.Tests.Policy;

/// <summary>The gitignore semantics of path patterns, case by case (README.md in src/Lighthouse.Project/Policy).</summary>
public class PathGlobTests
{
    [Theory]
    // A name without '/' matches at any depth, files and directories alike.
    [InlineData("a.pem", "a.pem", false, true)]
    [InlineData("a.pem", "deep/er/a.pem", false, true)]
    [InlineData("*.pem", "keys/server.pem", false, true)]
    [InlineData("*.pem", "keys/server.pem.bak", false, false)]
    [InlineData("build", "src/build", true, true)]
    [InlineData("build", "src/build", false, true)]
    [InlineData("build", "src/builder", false, false)]
    // '*' and '?' never cross '/'.
    [InlineData("src/*.c", "src/a.c", false, true)]
    [InlineData("src/*.c", "src/lib/a.c", false, false)]
    [InlineData("src/?.c", "src/a.c", false, true)]
    [InlineData("src/?.c", "src/ab.c", false, false)]
    [InlineData("a*b", "a/b", false, false)]
    [InlineData("a?b", "a/b", false, false)]
    // Character classes, ranges and negation.
    [InlineData("file[0-9].txt", "file7.txt", false, true)]
    [InlineData("file[0-9].txt", "filex.txt", false, false)]
    [InlineData("[abc].md", "docs/b.md", false, true)]
    [InlineData("[abc].md", "docs/d.md", false, false)]
    [InlineData("[!abc].md", "d.md", false, true)]
    [InlineData("[^abc].md", "a.md", false, false)]
    // A leading or middle '/' anchors at the project root.
    [InlineData("/secrets", "secrets", true, true)]
    [InlineData("/secrets", "lib/secrets", true, false)]
    [InlineData("docs/api", "docs/api", true, true)]
    [InlineData("docs/api", "x/docs/api", true, false)]
    // A trailing '/' matches directories only (and, through them, what they hold).
    [InlineData("secrets/", "secrets", true, true)]
    [InlineData("secrets/", "secrets", false, false)]
    [InlineData("secrets/", "lib/secrets", true, true)]
    [InlineData("logs/", "logs", false, false)]
    // A matched directory covers everything beneath it.
    [InlineData("secrets/", "secrets/a/b.txt", false, true)]
    [InlineData("/vendor", "vendor/lib/x.c", false, true)]
    [InlineData("*.d", "obj/x.d/deps.txt", false, true)]
    [InlineData("/secrets/", "lib/secrets/a", false, false)]
    // '**' forms.
    [InlineData("**/x", "x", false, true)]
    [InlineData("**/x", "a/b/x", false, true)]
    [InlineData("a/**/b", "a/b", false, true)]
    [InlineData("a/**/b", "a/x/y/b", false, true)]
    [InlineData("a/**/b", "c/a/x/b", false, false)]
    [InlineData("x/**", "x/a", false, true)]
    [InlineData("x/**", "x/a/b", false, true)]
    [InlineData("x/**", "x", true, false)]
    [InlineData("x/**/", "x/a", false, false)]
    [InlineData("x/**/", "x/a", true, true)]
    [InlineData("src/**/*.c", "src/a.c", false, true)]
    [InlineData("src/**/*.c", "src/p/q/a.c", false, true)]
    [InlineData("src/**/*.c", "src/p/q/a.h", false, false)]
    // Escapes make a wildcard literal; '**' inside a segment is a plain '*'.
    [InlineData(@"\*.txt", "*.txt", false, true)]
    [InlineData(@"\*.txt", "a.txt", false, false)]
    [InlineData("a**z", "abcz", false, true)]
    [InlineData("a**z", "ab/cz", false, false)]
    // Negative cases: near misses.
    [InlineData("secrets", "secret", true, false)]
    [InlineData("secrets", "secrets2/a", false, false)]
    [InlineData("src/a.c", "src/a.cc", false, false)]
    public void Pattern_covers_path_as_gitignore_would(string pattern, string path, bool isDirectory, bool expected)
    {
        Assert.Equal(expected, PathGlob.Compile(pattern).Covers(path, isDirectory));
    }

    [Fact]
    public void Paths_deeper_than_the_stack_buffer_are_matched_too()
    {
        string deep = string.Join('/', Enumerable.Range(0, 100).Select(i => $"d{i}")) + "/key.pem";

        Assert.True(PathGlob.Compile("*.pem").Covers(deep, isDirectory: false));
        Assert.True(PathGlob.Compile("/d0/**/d99/").Covers(deep, isDirectory: false));
        Assert.False(PathGlob.Compile("/d1/").Covers(deep, isDirectory: false));
        var policy = AccessPolicy.Parse("rules:\n  - {path: d42/, effect: hide}\n", "p");
        Assert.Equal(PolicyErrno.ENOENT, policy.Decide(new("a", null, null), PolicyOperation.Read, deep, false).Errno);
    }

    [Theory]
    [InlineData("*")]
    [InlineData("**")]
    [InlineData("/src")]
    public void The_project_root_is_covered_by_no_pattern(string pattern)
    {
        Assert.False(PathGlob.Compile(pattern).Covers("", isDirectory: true));
    }

    [Theory]
    [InlineData("../etc/passwd", "'..'")]
    [InlineData("src/../x", "'..'")]
    [InlineData("./src", "'.'")]
    [InlineData("a\0b", "NUL")]
    [InlineData("", "empty")]
    [InlineData("/", "root")]
    [InlineData("a//b", "empty segment")]
    [InlineData("file[0-9", "unclosed")]
    [InlineData("x[/]y", "unclosed")]
    [InlineData("[z-a]", "reversed")]
    [InlineData("!keep.txt", "negation")]
    [InlineData(@"tail\", "backslash")]
    public void Bad_patterns_are_refused_with_the_reason(string pattern, string reason)
    {
        var e = Assert.Throws<FormatException>(() => PathGlob.Compile(pattern));
        Assert.Contains(reason, e.Message);
    }

    [Theory]
    [InlineData("git reset --hard*", "git reset --hard HEAD~1", true)]
    [InlineData("git reset --hard*", "git reset --soft HEAD~1", false)]
    [InlineData("git clean *", "git clean -fdx src/", true)]
    [InlineData("*rm -rf*", "/bin/rm -rf /tmp/x", true)]
    [InlineData("make ?", "make a", true)]
    [InlineData("make ?", "make ab", false)]
    [InlineData("git [x]", "git [x]", true)]
    [InlineData("git [x]", "git x", false)]
    [InlineData(@"echo \*", "echo *", true)]
    [InlineData(@"echo \*", "echo a", false)]
    [InlineData("alice/*", "alice/git", true)]
    public void Line_globs_match_the_whole_line_and_star_crosses_spaces_and_slashes(string pattern, string line, bool expected)
    {
        Assert.Equal(expected, Wildcard.ForLine(pattern).Matches(line));
    }
}

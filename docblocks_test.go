package cachet_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The code shown to users must compile: every Go code block of README.md
// and of a doc.go file (contrib modules included) is a copy of lines of
// one test function (an Example, compiled and run by go test, or a test
// shown whole, such as a storetest.Run call): its lines, comments and
// indentation aside, appear in that function (signature and closing brace
// included) in the same order (a block may leave lines out, such as the
// ctx := line, but not change one). Its import lines, if any, must be
// imports of that function's file. A block that does not parse as Go and
// has no Go in it (a URL list, a diagram) is not checked; one that looks
// like Go (":=", "func(", "import") but does not parse, such as
// "if err != nil { ... }", fails. No block is exempt.

// goBlock is one code block and where it is.
type goBlock struct {
	where string
	lines []string
}

// testFunc is the code lines of one test function and the import specs
// of its file (`"path"` or `name "path"`).
type testFunc struct {
	where   string
	lines   []string
	imports []string
}

var readmeBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

// readmeBlocks returns the Go blocks of a markdown file.
func readmeBlocks(path string) ([]goBlock, error) {
	readme, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []goBlock
	for _, m := range readmeBlock.FindAllStringSubmatchIndex(string(readme), -1) {
		line := strings.Count(string(readme[:m[0]]), "\n") + 1
		out = append(out, goBlock{path + ":" + strconv.Itoa(line), strings.Split(string(readme[m[2]:m[3]]), "\n")})
	}
	return out, nil
}

// docBlocks returns the indented blocks of a doc.go package comment.
func docBlocks(path string) ([]goBlock, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []goBlock
	var cur []string
	start := 0
	flush := func() {
		if len(cur) > 0 {
			out = append(out, goBlock{where: path + ":" + strconv.Itoa(start), lines: cur})
		}
		cur = nil
	}
	for i, l := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(l, "//\t") {
			if cur == nil {
				start = i + 1
			}
			cur = append(cur, strings.TrimPrefix(l, "//\t"))
			continue
		}
		flush()
	}
	flush()
	return out, nil
}

// collectDocs returns every Go block of README.md and of the doc.go files
// under the root (contrib modules included, bench and testdata not), and
// every function of every test file.
func collectDocs(t *testing.T) ([]goBlock, []testFunc) {
	t.Helper()
	blocks, err := readmeBlocks("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var funcs []testFunc
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (d.Name() == "testdata" || d.Name() == "bench") {
			return filepath.SkipDir
		}
		switch {
		case d.Name() == "doc.go":
			bs, err := docBlocks(path)
			blocks = append(blocks, bs...)
			return err
		case strings.HasSuffix(path, "_test.go") && path != "docblocks_test.go":
			fs, err := testFuncs(path)
			funcs = append(funcs, fs...)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return blocks, funcs
}

// isGo reports whether the lines parse as Go declarations or statements.
func isGo(lines []string) bool {
	src := strings.Join(lines, "\n")
	if !strings.ContainsAny(src, "({=\"") || strings.Contains(lines[0], "://") && !strings.Contains(lines[0], `"`) {
		return false // "memory://NAME?max_entries=N" parses, as a label
	}
	fset := token.NewFileSet()
	if _, err := parser.ParseFile(fset, "", "package p\n"+src, 0); err == nil {
		return true
	}
	// Imports first, then statements.
	var imps, rest []string
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "import ") {
			imps = append(imps, l)
		} else {
			rest = append(rest, l)
		}
	}
	_, err := parser.ParseFile(fset, "", "package p\n"+strings.Join(imps, "\n")+"\nfunc _() {\n"+strings.Join(rest, "\n")+"\n}", 0)
	return err == nil
}

// codeLines strips comments, indentation and blank lines.
func codeLines(lines []string) []string {
	var out []string
	for _, l := range lines {
		l = stripComment(l)
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// blockProblem says why b is not a copy of one of funcs ("" when it is),
// and whether it was checked at all.
func blockProblem(b goBlock, funcs []testFunc) (problem string, checked bool) {
	code := codeLines(b.lines)
	if len(code) == 0 {
		return "", false
	}
	if !isGo(b.lines) {
		if !looksLikeGo(b.lines) {
			return "", false
		}
		return "this block looks like Go but does not compile; make it a copy of an Example", true
	}
	var imps, rest []string
	for _, l := range code {
		if spec, ok := strings.CutPrefix(l, "import "); ok {
			imps = append(imps, spec)
		} else {
			rest = append(rest, l)
		}
	}
	matches := func(f testFunc) bool {
		for _, spec := range imps {
			if !slices.Contains(f.imports, spec) {
				return false
			}
		}
		return len(rest) == 0 || subsequence(rest, f.lines)
	}
	if slices.ContainsFunc(funcs, matches) {
		return "", true
	}
	if len(rest) == 0 {
		return "this import is in no test file", true
	}
	return "this Go block is not a copy of lines of an Example (or another test function) whose file has its imports", true
}

func TestDocCodeBlocksAreExamples(t *testing.T) {
	blocks, funcs := collectDocs(t)
	checkedIn := map[string]int{} // file -> checked blocks
	for _, b := range blocks {
		problem, checked := blockProblem(b, funcs)
		if checked {
			checkedIn[strings.SplitN(b.where, ":", 2)[0]]++
		}
		if problem != "" {
			t.Errorf("%s: %s:\n\t%s", b.where, problem, strings.Join(b.lines, "\n\t"))
		}
	}
	// The walk reaches the files users read first, contrib modules
	// included.
	for _, f := range []string{
		"README.md", "doc.go", "codec/doc.go",
		"contrib/otelcachet/doc.go", "contrib/promcachet/doc.go",
		"store/redisstore/doc.go", "store/memcachestore/doc.go", "store/storetest/doc.go",
	} {
		if checkedIn[filepath.FromSlash(f)] == 0 {
			t.Errorf("no Go block of %s was checked: the extraction is broken (checked: %v)", f, checkedIn)
		}
	}
}

// TestDocCodeBlocksCheckCanFail changes every checked block in ways that
// keep it Go, and wants each changed copy rejected: a check that accepted
// them would let the docs drift.
func TestDocCodeBlocksCheckCanFail(t *testing.T) {
	blocks, funcs := collectDocs(t)
	n := 0
	for _, b := range blocks {
		if p, checked := blockProblem(b, funcs); !checked || p != "" {
			continue
		}
		n++
		mutations := map[string][]string{
			// One more line, which no function has after these.
			"a line added": append(slices.Clone(b.lines), `mutated := "drift"`),
		}
		// One line changed: a literal or a name edited, as when an API
		// is renamed and the docs are not.
		for i, l := range b.lines {
			code := strings.TrimSpace(stripComment(l))
			if code == "" {
				continue
			}
			changed := slices.Clone(b.lines)
			switch {
			case strings.Contains(code, `"`):
				changed[i] = strings.Replace(l, `"`, `"drift-`, 1)
			case strings.Contains(code, "("):
				changed[i] = strings.Replace(l, "(", "Drift(", 1)
			default:
				continue
			}
			mutations["line "+strconv.Itoa(i+1)+" changed"] = changed
			break
		}
		for what, lines := range mutations {
			if p, _ := blockProblem(goBlock{b.where, lines}, funcs); p == "" {
				t.Errorf("%s with %s: still accepted:\n\t%s", b.where, what, strings.Join(lines, "\n\t"))
			}
		}
	}
	if n < 15 {
		t.Fatalf("only %d blocks checked; want the docs' Go blocks (15 or more)", n)
	}
}

// TestDocCodeBlocksNoExemption keeps the check whole: nothing in this
// file may list blocks to skip.
func TestDocCodeBlocksNoExemption(t *testing.T) {
	src, err := os.ReadFile("docblocks_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, word := range []string{"known" + "Drift", "exem" + "pt = ", "ski" + "pBlocks"} {
		if strings.Contains(string(src), word) {
			t.Errorf("docblocks_test.go holds %q: every Go block of the docs must be a copy of an Example, none exempt", word)
		}
	}
}

// testFuncs returns the code lines of each function of a test file,
// signature and closing brace included, with the file's imports.
func testFuncs(path string) ([]testFunc, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		return nil, err
	}
	var imports []string
	for _, is := range f.Imports {
		spec := is.Path.Value
		if is.Name != nil {
			spec = is.Name.Name + " " + spec
		}
		imports = append(imports, spec)
	}
	var out []testFunc
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
			text := string(src[fset.Position(fd.Pos()).Offset:fset.Position(fd.End()).Offset])
			out = append(out, testFunc{path + ":" + fd.Name.Name, codeLines(strings.Split(text, "\n")), imports})
		}
	}
	return out, nil
}

// subsequence reports whether every line of block appears in f, in order.
func subsequence(block, f []string) bool {
	i := 0
	for _, l := range f {
		if i < len(block) && l == block[i] {
			i++
		}
	}
	return i == len(block) && len(block) > 0
}

// looksLikeGo reports whether lines have Go in them.
func looksLikeGo(lines []string) bool {
	s := strings.Join(lines, "\n")
	return strings.Contains(s, ":=") || strings.Contains(s, "func(") || strings.Contains(s, "import ")
}

// stripComment removes a // comment that is outside a string literal.
func stripComment(l string) string {
	inStr := false
	for i := 0; i < len(l); i++ {
		switch {
		case l[i] == '\\' && inStr:
			i++
		case l[i] == '"' || l[i] == '`':
			inStr = !inStr
		case !inStr && strings.HasPrefix(l[i:], "//"):
			return l[:i]
		}
	}
	return l
}

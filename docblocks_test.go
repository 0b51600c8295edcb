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
	"strings"
	"testing"
)

// The code shown to users must compile: every Go code block of README.md
// and of a doc.go file is a copy of lines of one test function (an
// Example, compiled and run by go test): its lines, comments and
// indentation aside, appear in that function in the same order (a block
// may leave lines out, such as the ctx := line, but not change one). A
// block that does not parse as Go and has no Go in it (a URL list, a
// diagram) is not checked; one that looks like Go (":=", "func(",
// "import") but does not parse, such as "if err != nil { ... }", fails.

// goBlock is one code block and where it is.
type goBlock struct {
	where string
	lines []string
}

var readmeBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

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
			out = append(out, goBlock{where: path + ":" + itoa(start), lines: cur})
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

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(n)) }

func fmtInt(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
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
	_, err := parser.ParseFile(fset, "", "package p\nfunc _() {\n"+src+"\n}", 0)
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

func TestDocCodeBlocksAreExamples(t *testing.T) {
	var blocks []goBlock
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range readmeBlock.FindAllStringSubmatchIndex(string(readme), -1) {
		line := strings.Count(string(readme[:m[0]]), "\n") + 1
		blocks = append(blocks, goBlock{"README.md:" + itoa(line), strings.Split(string(readme[m[2]:m[3]]), "\n")})
	}
	var funcs [][]string // the code lines of every test function
	var testSrc string   // every test file
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
			fs, src, err := testFuncs(path)
			funcs = append(funcs, fs...)
			testSrc += src
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, b := range blocks {
		code := codeLines(b.lines)
		if len(code) == 0 {
			continue
		}
		id := strings.SplitN(b.where, ":", 2)[0] + ": " + code[0]
		var problem string
		switch {
		case !isGo(b.lines):
			if !looksLikeGo(b.lines) {
				continue
			}
			problem = "this block looks like Go but does not compile; make it a copy of an Example"
		default:
			checked++
			if imports(code) {
				// Import lines are not in function bodies: each must be
				// an import of a test file.
				for _, l := range code {
					if !strings.Contains(testSrc, strings.TrimPrefix(l, "import ")) {
						problem = "this import is in no test file"
					}
				}
				break
			}
			if !slices.ContainsFunc(funcs, func(f []string) bool { return subsequence(code, f) }) {
				problem = "this Go block is not a copy of lines of an Example (or another test function)"
			}
		}
		switch {
		case problem != "" && !knownDrift[id]:
			t.Errorf("%s (%q): %s:\n\t%s", b.where, id, problem, strings.Join(b.lines, "\n\t"))
		case problem == "" && knownDrift[id]:
			t.Errorf("%s is now a copy of an Example: remove %q from knownDrift", b.where, id)
		}
	}
	if checked == 0 {
		t.Fatal("no Go block found: the extraction is broken")
	}
}

// knownDrift lists the blocks that are not yet copies of Examples (issue
// 15): each must become one, and then leave this list (the test says so).
var knownDrift = map[string]bool{
	"README.md: getUser := cachet.Memoize(users, loadUser, &cachet.MemoizeOptions[int, User]{":                                  true,
	"README.md: import _ \"github.com/cachet-go/cachet/store/redisstore/redisurl\"":                                             true,
	"README.md: import \"github.com/cachet-go/cachet/caches\"":                                                                  true,
	"README.md: func TestMyStore(t *testing.T) {":                                                                               true,
	"codec/doc.go: c, err := cachet.New[string](s, codec.JSON[User](), nil)":                                                    true,
	"contrib/otelcachet/doc.go: rec, err := otelcachet.NewRecorder(&otelcachet.Options{System: \"redis\"})":                     true,
	"contrib/promcachet/doc.go: mw, err := promcachet.Metrics(&promcachet.Options{":                                             true,
	"store/memcachestore/doc.go: s, err := memcachestore.NewFromServers([]string{\"10.0.0.1:11211\", \"10.0.0.2:11211\"}, nil)": true,
	"store/redisstore/doc.go: s, err := redisstore.Open(&redisstore.Options{Addrs: []string{\"localhost:6379\"}, DB: 1})":       true,
	"store/storetest/doc.go: func TestStore(t *testing.T) {":                                                                    true,
	"store/storetest/doc.go: func TestMyMiddleware(t *testing.T) {":                                                             true,
}

// testFuncs returns the code lines of each function of a test file.
func testFuncs(path string) ([][]string, string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		return nil, "", err
	}
	var out [][]string
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
			body := string(src[fset.Position(fd.Body.Lbrace).Offset+1 : fset.Position(fd.Body.Rbrace).Offset])
			out = append(out, codeLines(strings.Split(body, "\n")))
		}
	}
	return out, string(src), nil
}

// imports reports whether every line is an import.
func imports(code []string) bool {
	for _, l := range code {
		if !strings.HasPrefix(l, "import ") {
			return false
		}
	}
	return true
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
	return strings.Contains(s, ":=") || strings.Contains(s, "func(") || strings.HasPrefix(strings.TrimSpace(s), "import ")
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

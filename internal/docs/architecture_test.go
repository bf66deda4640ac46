package docs_test

import (
	"errors"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The module's path and its root, relative to this package's directory.
const (
	module   = "github.com/drwatch/drwatch"
	repoRoot = "../.."
)

// goPackages returns every package of the module as a path relative to
// its root (cmd/drwatch, internal/watch, ...) with the module's packages
// its non-test files import (default build tags), relative too.
func goPackages(t *testing.T) map[string][]string {
	t.Helper()
	pkgs := map[string][]string{}
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != repoRoot && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin" || name == "node_modules") {
			return filepath.SkipDir
		}
		// The daemon's files as built, and as built for the crash tests.
		var imports []string
		found := false
		for _, tags := range [][]string{nil, {"crashhook"}} {
			bc := build.Default
			bc.BuildTags = tags
			p, err := bc.ImportDir(path, 0)
			var noGo *build.NoGoError
			switch {
			case errors.As(err, &noGo):
				continue // no Go files, or only test files and tagged ones (e2e/)
			case err != nil:
				return err
			}
			found = true
			for _, imp := range p.Imports {
				if s, ok := strings.CutPrefix(imp, module+"/"); ok && !slices.Contains(imports, s) {
					imports = append(imports, s)
				}
			}
		}
		if found {
			rel, _ := filepath.Rel(repoRoot, path)
			pkgs[filepath.ToSlash(rel)] = imports
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("found %d packages under %s: the walk is wrong", len(pkgs), repoRoot)
	}
	return pkgs
}

// layerTable returns docs/architecture.md's layer table: package -> layer
// (-1 for "test").
func layerTable(t *testing.T) (map[string]int, map[string]string) {
	t.Helper()
	d := parseDoc(t, "architecture.md")
	for _, tb := range d.tables {
		if tb.col(0) != "layer" || tb.col(1) != "package" {
			continue
		}
		layers, where := map[string]int{}, map[string]string{}
		for _, r := range tb.rows {
			pkg, ok := r.single(1)
			if !ok {
				t.Errorf("%s: the package cell must hold one `path`: %q", r.pos(d.name), r.cell(1))
				continue
			}
			layer := -1
			if c := r.cell(0); c != "test" {
				n, err := strconv.Atoi(c)
				if err != nil || n < 0 {
					t.Errorf("%s: layer %q is neither a number nor test", r.pos(d.name), c)
					continue
				}
				layer = n
			}
			if _, dup := layers[pkg]; dup {
				t.Errorf("%s: %s is listed twice", r.pos(d.name), pkg)
			}
			layers[pkg], where[pkg] = layer, r.pos(d.name)
		}
		return layers, where
	}
	t.Fatal("docs/architecture.md has no table with the columns layer | package")
	return nil, nil
}

// docs/architecture.md's layers are the code's: every package listed once,
// each importing only packages of lower layers, and no daemon package
// importing a test package.
func TestArchitectureLayers(t *testing.T) {
	pkgs := goPackages(t)
	layers, where := layerTable(t)
	for _, pkg := range sortedKeys(pkgs) {
		if _, ok := layers[pkg]; !ok {
			t.Errorf("package %s is not in docs/architecture.md's layer table", pkg)
		}
	}
	for _, pkg := range sortedKeys(layers) {
		if _, ok := pkgs[pkg]; !ok {
			t.Errorf("%s: %s is no package of the module", where[pkg], pkg)
		}
	}
	for _, pkg := range sortedKeys(pkgs) {
		l, ok := layers[pkg]
		if !ok || l < 0 {
			continue // test packages may import anything
		}
		for _, imp := range pkgs[pkg] {
			il, ok := layers[imp]
			switch {
			case !ok:
			case il < 0:
				t.Errorf("%s (layer %d) imports test package %s", pkg, l, imp)
			case il >= l:
				t.Errorf("%s (layer %d) imports %s of layer %d: imports go down only", pkg, l, imp, il)
			}
		}
	}
}

// The package table of "What each package owns" covers every package too
// (a row ending in / covers what is under it).
func TestArchitecturePackagesOwned(t *testing.T) {
	pkgs := goPackages(t)
	d := parseDoc(t, "architecture.md")
	var owned []string
	for _, tb := range d.tables {
		if tb.col(0) == "package" && tb.col(1) == "owns" {
			for _, r := range tb.rows {
				if p, ok := r.single(0); ok {
					owned = append(owned, p)
				}
			}
		}
	}
	if len(owned) == 0 {
		t.Fatal("docs/architecture.md has no table with the columns package | owns")
	}
	for _, pkg := range sortedKeys(pkgs) {
		if !slices.ContainsFunc(owned, func(o string) bool {
			return o == pkg || (strings.HasSuffix(o, "/") && strings.HasPrefix(pkg, o))
		}) {
			t.Errorf("package %s has no row in docs/architecture.md's \"What each package owns\"", pkg)
		}
	}
	for _, o := range owned {
		dir := filepath.Join(repoRoot, filepath.FromSlash(strings.TrimSuffix(o, "/")))
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("docs/architecture.md owns %s, which does not exist", o)
		}
	}
}

// The CLI parses flags, calls one application service and prints: it
// imports at most 8 of the project's packages (docs/architecture.md).
func TestCLIImportsFew(t *testing.T) {
	const most = 8
	if imps := goPackages(t)["internal/cli"]; len(imps) > most {
		slices.Sort(imps)
		t.Errorf("internal/cli imports %d of the project's packages (at most %d: workflows and wiring belong in internal/app or their own package): %v", len(imps), most, imps)
	}
}

package depcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// packageMap says which project packages each project package may import in
// its non-test files. Paths are relative to the module. "x/..." matches x and
// every package below it; the most specific row for a package applies (an
// exact row beats a pattern, a longer pattern beats a shorter one). "..." in
// the right column allows every project package. A package must be listed
// here or be a test helper (see isTestHelper) below a listed package.
var packageMap = []struct {
	pkg       string
	mayImport []string
}{
	{"cmd/stellad", []string{"..."}},
	{"cmd/stellactl", []string{"internal/client", "internal/apitype", "internal/keys/...", "kit/..."}},
	{"kit/...", []string{"kit/dsse", "kit/bundle", "kit/internal/..."}}, // kit, kit/verify and any other kit/x
	{"kit/dsse", []string{"kit/internal/..."}},
	{"kit/bundle", []string{"kit/dsse", "kit/internal/..."}},
	{"kit/verify", []string{"kit/dsse", "kit/bundle", "kit/witness", "kit/internal/..."}},
	{"kit/internal/...", nil}, // helpers shared by the kit packages, not public API
	{"internal/keys/...", []string{"internal/keys/..."}},
	{"internal/signer", []string{"kit/dsse", "internal/keys"}}, // internal/keys for its interfaces only
	{"internal/translog", []string{"kit/bundle", "internal/tilefs"}},
	{"internal/tilefs", nil},
	{"internal/store", nil},
	{"internal/metrics", nil},
	{"internal/refusal", nil},
	{"internal/tsa", nil},
	{"internal/ca", []string{"internal/refusal"}},
	{"internal/ctlog", []string{"internal/tilefs"}},
	{"internal/authn", []string{"internal/store", "internal/refusal", "kit/..."}},
	{"internal/entitlement", []string{"internal/store", "internal/refusal", "kit/..."}},
	{"internal/policy", []string{"internal/store", "internal/refusal", "kit/..."}},
	{"internal/audit", []string{"internal/store", "kit/..."}},
	{"internal/offline", []string{"internal/store", "internal/audit", "internal/entitlement", "kit/..."}},
	{"internal/attest", []string{"internal/store", "internal/translog", "internal/signer", "internal/keys", "internal/apitype",
		"internal/authn", "internal/entitlement", "internal/policy", "internal/audit", "internal/metrics", "internal/offline",
		"internal/refusal", "internal/ca", "internal/tsa", "kit/..."}}, // ca: Identity; tsa: Query (keyless signing)
	// api reads the admission domains' refusal types to map them to statuses,
	// and the CA's and TSA's wire codecs and error types.
	{"internal/api", []string{"internal/apitype", "internal/attest", "internal/authn", "internal/entitlement", "internal/policy",
		"internal/offline", "internal/refusal", "internal/ca", "internal/tsa", "kit/..."}},
	{"internal/apitype", nil},
	{"internal/client", []string{"internal/apitype"}},
	{"internal/depcheck", nil},
	{"test/...", []string{"..."}}, // end-to-end tests: test files only, importable by no one
}

// Rules beyond the table, checked for test files too:
//   - only cmd/... may import cmd/... (Go forbids importing a main package anyway);
//   - kit/... never imports internal/..., not even in tests, so that kit can
//     leave the module;
//   - a test helper package (isTestHelper) is imported only by test files and
//     by other test helpers.

// notTestHelpers are package names that end in "test" but are not test
// helpers.
var notTestHelpers = []string{"test", "attest"}

// isTestHelper reports whether a package is a test helper: its last element
// ends in "test", such as internal/keys/keystest or
// internal/keys/pkcs11/softhsmtest, and is not in notTestHelpers. A test
// helper not in the table takes the row of the package above it and may also
// import that package.
func isTestHelper(rel string) bool {
	base := rel[strings.LastIndex(rel, "/")+1:]
	return strings.HasSuffix(base, "test") && !slices.Contains(notTestHelpers, base)
}

// goPackage is what the check needs from `go list -json`.
type goPackage struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Error        *struct{ Err string }
}

func TestPackageMap(t *testing.T) {
	module, pkgs := listPackages(t)
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	for _, p := range pkgs {
		if p.Error != nil {
			// Not compiling is the compiler's business; the imports go list
			// could read are still checked.
			t.Logf("%s: %s (imports checked as far as listed)", p.ImportPath, p.Error.Err)
		}
	}
	for _, v := range checkPackages(module, pkgs) {
		t.Error(v)
	}
}

// TestChecker checks the checker on made-up packages, so that a broken check
// cannot pass silently.
func TestChecker(t *testing.T) {
	const m = "example.com/m"
	tests := []struct {
		name string
		pkg  goPackage
		want []string // substrings of the violations, in order; nil = none
	}{
		{name: "allowed", pkg: goPackage{ImportPath: m + "/internal/attest", Imports: []string{m + "/internal/store", m + "/kit/dsse", "fmt"}}},
		{name: "attest is not a test helper", pkg: goPackage{ImportPath: m + "/internal/api", Imports: []string{m + "/internal/attest"}}},
		{name: "allowed by pattern", pkg: goPackage{ImportPath: m + "/kit/verify", Imports: []string{m + "/kit/bundle"}}},
		{name: "exact row beats pattern", pkg: goPackage{ImportPath: m + "/kit/dsse", Imports: []string{m + "/kit/bundle"}},
			want: []string{"forbidden import: kit/dsse -> kit/bundle"}},
		{name: "forbidden edge", pkg: goPackage{ImportPath: m + "/internal/store", Imports: []string{m + "/internal/apitype"}},
			want: []string{"forbidden import: internal/store -> internal/apitype (internal/store may import nothing of the project)"}},
		{name: "signer may not import a key driver", pkg: goPackage{ImportPath: m + "/internal/signer", Imports: []string{m + "/internal/keys/pkcs11"}},
			want: []string{"internal/signer -> internal/keys/pkcs11"}},
		{name: "kit imports internal", pkg: goPackage{ImportPath: m + "/kit/bundle", Imports: []string{m + "/internal/translog"}},
			want: []string{"kit/... must never import internal/...", "forbidden import: kit/bundle -> internal/translog"}},
		{name: "kit test imports internal", pkg: goPackage{ImportPath: m + "/kit/bundle", XTestImports: []string{m + "/internal/translog"}},
			want: []string{"kit/bundle (test) -> internal/translog: kit/... must never import internal/..."}},
		{name: "cmd imported", pkg: goPackage{ImportPath: m + "/internal/api", TestImports: []string{m + "/cmd/stellad"}},
			want: []string{"internal/api (test) -> cmd/stellad: only cmd/ may import cmd/"}},
		{name: "test helper in non-test code", pkg: goPackage{ImportPath: m + "/internal/keys/file", Imports: []string{m + "/internal/keys/keystest"}},
			want: []string{"internal/keys/file -> internal/keys/keystest: test helper packages are for tests"}},
		{name: "test helper in tests", pkg: goPackage{ImportPath: m + "/internal/attest", TestImports: []string{m + "/internal/keys/keystest", m + "/kit/verify/verifytest"}}},
		{name: "test helper inherits its parent's row", pkg: goPackage{ImportPath: m + "/internal/translog/translogtest", Imports: []string{m + "/internal/translog", m + "/kit/bundle"}}},
		{name: "test helper importing a test helper", pkg: goPackage{ImportPath: m + "/kit/verify/verifytest", Imports: []string{m + "/kit/verify", m + "/kit/dsse/dssetest"}}},
		{name: "test helper importing a forbidden test helper", pkg: goPackage{ImportPath: m + "/kit/verify/verifytest", Imports: []string{m + "/internal/keys/keystest"}},
			want: []string{"kit/... must never import internal/...", "kit/verify/verifytest -> internal/keys/keystest"}},
		{name: "unknown package", pkg: goPackage{ImportPath: m + "/internal/fido2"},
			want: []string{"package internal/fido2 is not in the package map: add a row to packageMap in internal/depcheck/deps_test.go"}},
		{name: "cmd may import anything", pkg: goPackage{ImportPath: m + "/cmd/stellad", Imports: []string{m + "/internal/keys/pkcs11", m + "/internal/fido2"}}},
		{name: "stellactl", pkg: goPackage{ImportPath: m + "/cmd/stellactl", Imports: []string{m + "/internal/client", m + "/internal/attest"}},
			want: []string{"cmd/stellactl -> internal/attest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkPackages(m, []goPackage{tt.pkg})
			if len(got) != len(tt.want) {
				t.Fatalf("violations:\n%s\nwant %d matching %q", strings.Join(got, "\n"), len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("violation %q, want it to contain %q", got[i], tt.want[i])
				}
			}
		})
	}
}

// listPackages runs go list over the whole module, tolerating packages that
// do not compile (another engineer may be halfway through one).
func listPackages(t *testing.T) (module string, pkgs []goPackage) {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list packages: %v", err)
	}
	out, err := exec.Command(goCmd, "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == "/dev/null" {
		t.Fatal("not inside a module")
	}
	root := filepath.Dir(gomod)
	cmd := exec.Command(goCmd, "list", "-m")
	cmd.Dir = root
	if out, err = cmd.Output(); err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	module = strings.TrimSpace(string(out))

	cmd = exec.Command(goCmd, "list", "-e", "-json=ImportPath,Imports,TestImports,XTestImports,Error", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if out, err = cmd.Output(); err != nil {
		t.Fatalf("go list ./...: %v\n%s", err, stderr.Bytes())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return module, pkgs
}

// checkPackages returns one message per violation, naming the edge.
func checkPackages(module string, pkgs []goPackage) []string {
	rel := func(path string) (string, bool) {
		if path == module {
			return ".", true
		}
		r, ok := strings.CutPrefix(path, module+"/")
		return r, ok
	}
	var out []string
	for _, p := range pkgs {
		from, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		allowed, known := rowFor(from)
		if !known {
			out = append(out, fmt.Sprintf("package %s is not in the package map: add a row to packageMap in internal/depcheck/deps_test.go "+
				"saying which project packages it may import (see the package map in ARCHITECTURE.md)", from))
		}
		check := func(imports []string, inTest bool) {
			label := from
			if inTest {
				label += " (test)"
			}
			for _, imp := range imports {
				to, ok := rel(imp)
				if !ok || to == from {
					continue
				}
				switch {
				case under(to, "cmd") && !under(from, "cmd"):
					out = append(out, fmt.Sprintf("forbidden import: %s -> %s: only cmd/ may import cmd/", label, to))
					continue
				case under(from, "kit") && under(to, "internal"):
					out = append(out, fmt.Sprintf("forbidden import: %s -> %s: kit/... must never import internal/...", label, to))
				case !inTest && isTestHelper(to) && !isTestHelper(from):
					out = append(out, fmt.Sprintf("forbidden import: %s -> %s: test helper packages are for tests only", label, to))
					continue
				}
				if inTest || !known {
					continue
				}
				if !allows(allowed, to) {
					out = append(out, fmt.Sprintf("forbidden import: %s -> %s (%s may import %s)", from, to, from, describe(allowed)))
				}
			}
		}
		check(p.Imports, false)
		check(p.TestImports, true)
		check(p.XTestImports, true)
	}
	return out
}

// rowFor finds the table row for a package. A test helper without a row of
// its own takes its parent's row and may also import its parent.
func rowFor(pkg string) (allowed []string, ok bool) {
	for _, r := range packageMap {
		if r.pkg == pkg {
			return r.mayImport, true
		}
	}
	if parent, ok := parentOf(pkg); ok && isTestHelper(pkg) {
		if allowed, ok := rowFor(parent); ok {
			return append(slices.Clone(allowed), parent), true
		}
	}
	best := -1
	for i, r := range packageMap {
		if strings.HasSuffix(r.pkg, "/...") && match(r.pkg, pkg) && (best < 0 || len(r.pkg) > len(packageMap[best].pkg)) {
			best = i
		}
	}
	if best < 0 {
		return nil, false
	}
	return packageMap[best].mayImport, true
}

// allows reports whether a row allows importing pkg. Importing a test helper
// (from another test helper) counts as importing the package above it.
func allows(allowed []string, pkg string) bool {
	for _, pat := range allowed {
		if match(pat, pkg) {
			return true
		}
		if parent, ok := parentOf(pkg); ok && isTestHelper(pkg) && match(pat, parent) {
			return true
		}
	}
	return false
}

func parentOf(pkg string) (string, bool) {
	i := strings.LastIndex(pkg, "/")
	if i <= 0 {
		return "", false
	}
	return pkg[:i], true
}

// match reports whether pkg matches pattern: an exact path, "x/..." for x and
// everything below it, or "..." for everything.
func match(pattern, pkg string) bool {
	if pattern == "..." {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, "/..."); ok {
		return under(pkg, prefix)
	}
	return pattern == pkg
}

// under reports whether pkg is dir or below it.
func under(pkg, dir string) bool {
	return pkg == dir || strings.HasPrefix(pkg, dir+"/")
}

func describe(allowed []string) string {
	if len(allowed) == 0 {
		return "nothing of the project"
	}
	return "only " + strings.Join(allowed, ", ")
}

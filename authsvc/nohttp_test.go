package authsvc_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoHTTPInTheCore: the account core speaks in domain terms; HTTP (Echo, net/http
// requests and responses) lives in the gateway. Every non-test file of authsvc and its
// packages is checked, so a handler cannot creep back in.
func TestNoHTTPInTheCore(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		if strings.HasPrefix(path, "storetest"+string(filepath.Separator)) {
			return nil // test servers for other packages' tests, never linked into the gateway
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "net/http" || strings.HasPrefix(p, "net/http/") || strings.HasPrefix(p, "github.com/labstack/") {
				t.Errorf("%s imports %s", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

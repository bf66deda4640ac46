package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary documents to Parse: it must never panic, and a
// failure is always a non-empty Errors whose every entry says something.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/good", "testdata/bad"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := Parse(b)
		if err == nil {
			if cfg == nil {
				t.Fatal("Parse returned neither a config nor an error")
			}
			for i := range cfg.Pairs {
				if cfg.Pairs[i].Resolved == nil {
					t.Fatalf("pairs[%d] has no resolved policy", i)
				}
			}
			return
		}
		if cfg != nil {
			t.Fatal("Parse returned a config with an error")
		}
		es, ok := err.(Errors) //nolint:errorlint // Parse returns Errors itself, unwrapped
		if !ok {
			t.Fatalf("error is %T, not config.Errors: %v", err, err)
		}
		if len(es) == 0 {
			t.Fatal("empty config.Errors")
		}
		for i, e := range es {
			if e == nil || e.Msg == "" {
				t.Fatalf("error %d has no message: %#v", i, e)
			}
		}
	})
}

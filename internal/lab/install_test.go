package lab

import (
	"archive/zip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func makeZip(t *testing.T, entries []zipEntry) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dist.zip")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := zip.NewWriter(f)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		h.SetMode(e.mode)
		fw, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

type zipEntry struct {
	name string
	mode os.FileMode
	body string
}

func TestExtractZip(t *testing.T) {
	z := makeZip(t, []zipEntry{
		{"opensearch-2.19.3/", os.ModeDir | 0o755, ""},
		{"opensearch-2.19.3/bin/opensearch", 0o755, "#!/bin/bash\n"},
		{"opensearch-2.19.3/config/jvm.options", 0o644, "-Xms1g\n"},
		{"opensearch-2.19.3/lib/current", os.ModeSymlink | 0o777, "opensearch-2.19.3.jar"},
	})
	dest := filepath.Join(t.TempDir(), "unpack")
	if err := extractZip(z, dest); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dest, "opensearch-2.19.3/bin/opensearch"))
	if err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Fatalf("bin/opensearch: %v %v (must stay executable)", fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "opensearch-2.19.3/config/jvm.options")); err != nil || string(b) != "-Xms1g\n" {
		t.Errorf("jvm.options %q %v", b, err)
	}
	if fi, _ := os.Stat(filepath.Join(dest, "opensearch-2.19.3/config/jvm.options")); fi.Mode().Perm()&0o111 != 0 {
		t.Errorf("jvm.options became executable: %v", fi.Mode())
	}
	if target, err := os.Readlink(filepath.Join(dest, "opensearch-2.19.3/lib/current")); err != nil || target != "opensearch-2.19.3.jar" {
		t.Errorf("symlink %q %v", target, err)
	}
}

func TestExtractZipRefusesEscapes(t *testing.T) {
	z := makeZip(t, []zipEntry{{"../escaped", 0o644, "x"}})
	dir := t.TempDir()
	err := extractZip(z, filepath.Join(dir, "unpack"))
	if err == nil || !strings.Contains(err.Error(), "leaves the target directory") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "escaped")); err == nil {
		t.Fatal("the entry was written outside the target")
	}
}

func TestCheckZip(t *testing.T) {
	z := makeZip(t, []zipEntry{{"a/b.txt", 0o644, strings.Repeat("data", 1000)}})
	if err := checkZip(z); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(z)
	i := strings.Index(string(b), "a/b.txt") + len("a/b.txt") + 10 // inside the compressed data
	b[i] ^= 0xff
	bad := filepath.Join(t.TempDir(), "bad.zip")
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkZip(bad); err == nil {
		t.Error("a damaged zip passed")
	}
}

func TestJavaMajor(t *testing.T) {
	for out, want := range map[string]int{
		"openjdk version \"17.0.12\" 2024-07-16\nOpenJDK Runtime Environment": 17,
		"java version \"1.8.0_292\"\n":                                        8,
		"openjdk version \"21-ea\" 2023-09-19\n":                              21,
		"openjdk version \"11.0.2\"":                                          11,
		"command not found":                                                   0,
	} {
		if got, _ := javaMajor(out); got != want {
			t.Errorf("%q: %d, want %d", out, got, want)
		}
	}
}

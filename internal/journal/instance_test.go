package journal

import "testing"

// A state_dir's instance is made once and kept: the same after a reopen,
// another in another state_dir.
func TestInstanceIsKept(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	first, err := j.Instance()
	if err != nil || len(first) != 32 {
		t.Fatalf("instance %q, %v", first, err)
	}
	j.Close()
	j, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if again, err := j.Instance(); err != nil || again != first {
		t.Fatalf("after a reopen: %q (%v), want %q", again, err, first)
	}
	other, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if id, _ := other.Instance(); id == first {
		t.Fatal("two state_dirs share an instance")
	}
}

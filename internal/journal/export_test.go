package journal

import "os"

// CountDirSyncs counts directory fsyncs until the test ends.
func CountDirSyncs(t interface{ Cleanup(func()) }) *int {
	n := new(int)
	old := fsyncDir
	fsyncDir = func(d *os.File) error { *n++; return old(d) }
	t.Cleanup(func() { fsyncDir = old })
	return n
}

// Package buildinfo holds the version stamped into the binary at build time
// with -ldflags "-X github.com/drwatch/drwatch/internal/buildinfo.Version=...".
package buildinfo

import "runtime"

// Set at build time.
var (
	Version  = "dev"
	Revision = "unknown"
)

// GoVersion is the toolchain that built the binary.
func GoVersion() string { return runtime.Version() }

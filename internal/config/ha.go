package config

import (
	"fmt"
	"os"
	"strings"
	"time"
	"unicode"
)

// HA makes two daemons watching the same pairs agree that exactly one of
// them acts, through a lease per pair in the pair's follower cluster
// (internal/ha; docs/ha.md).
type HA struct {
	Enabled bool `yaml:"enabled"`
	// LeaseIndex is the follower cluster's index that holds the leases,
	// the published state and the command inbox (DefaultLeaseIndex).
	LeaseIndex string `yaml:"lease_index"`
	// TTL is how long a lease lasts without a renewal: a standby takes
	// over a TTL after the holder's last renewal (DefaultHATTL).
	TTL Duration `yaml:"ttl"`
	// Identity names this daemon in the lease (default: the host name).
	Identity string `yaml:"identity"`
}

// HA defaults and bounds.
const (
	DefaultLeaseIndex = ".drwatch-ha"
	DefaultHATTL      = Duration(15 * time.Second)
	MinHATTL          = Duration(time.Second)
	MaxHATTL          = Duration(10 * time.Minute)
)

// ha fills the ha block's defaults and checks it. The identity defaults
// to the host name, read here: two daemons should differ in it for
// humans; safety does not depend on it (a token per takeover, and
// journal.Instance for adoption).
func (v *validator) ha(h *HA) {
	if h.LeaseIndex == "" {
		h.LeaseIndex = DefaultLeaseIndex
	}
	if h.TTL == 0 {
		h.TTL = DefaultHATTL
	}
	if !h.Enabled {
		return
	}
	if msg := checkLeaseIndex(h.LeaseIndex); msg != "" {
		v.fail("ha.lease_index", "%s", msg)
	}
	if h.TTL < MinHATTL || h.TTL > MaxHATTL {
		v.fail("ha.ttl", "must be between %s and %s (a standby takes over a TTL after the holder's last renewal), not %s", MinHATTL, MaxHATTL, h.TTL)
	}
	if h.Identity == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			v.fail("ha.identity", "the host name cannot be read (%v): set ha.identity to this daemon's name", err)
			return
		}
		h.Identity = host
	}
	if len(h.Identity) > 200 || strings.IndexFunc(h.Identity, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		v.fail("ha.identity", "must be at most 200 printable characters")
	}
}

// checkLeaseIndex returns why name cannot be an OpenSearch index name, or "".
func checkLeaseIndex(name string) string {
	switch {
	case name == "." || name == "..":
		return fmt.Sprintf("%q is not an index name", name)
	case strings.ContainsAny(name, ` ,"\/|<>?#*:`):
		return fmt.Sprintf("index name %q contains a character OpenSearch forbids in index names", name)
	case strings.ToLower(name) != name:
		return fmt.Sprintf("index name %q must be lower case", name)
	case strings.HasPrefix(name, "_") || strings.HasPrefix(name, "-") || strings.HasPrefix(name, "+"):
		return fmt.Sprintf("index name %q must not start with '_', '-' or '+'", name)
	case len(name) > 255:
		return "index name is longer than 255 bytes"
	}
	return ""
}

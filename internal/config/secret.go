package config

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Secret holds a credential read from a file or the environment. It never
// prints its value: fmt, %v, %+v, %#v, JSON and YAML all render "<secret>".
// Call Reveal only where the value is handed to a client.
type Secret struct {
	value string
}

// NewSecret wraps a value (for tests and for values resolved at load time).
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return s.value }

// IsSet reports whether the secret has a non-empty value.
func (s Secret) IsSet() bool { return s.value != "" }

func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return "<secret>"
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return s.String() }

// Format makes every fmt verb use String.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// MarshalJSON renders the secret as "<secret>".
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalYAML renders the secret as "<secret>".
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// readSecretFile reads a secret file and trims surrounding white space (a
// trailing newline from `echo > file` is the norm). The error never contains
// the content.
func readSecretFile(path string) (Secret, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the path comes from the operator's config
	if err != nil {
		return Secret{}, fmt.Errorf("cannot read secret file %q: %w", path, unwrapPathError(err))
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return Secret{}, fmt.Errorf("secret file %q is empty", path)
	}
	return Secret{value: v}, nil
}

func readSecretEnv(name string) (Secret, error) {
	v, ok := os.LookupEnv(name)
	if !ok {
		return Secret{}, fmt.Errorf("environment variable %s is not set", name)
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return Secret{}, fmt.Errorf("environment variable %s is empty", name)
	}
	return Secret{value: v}, nil
}

// unwrapPathError drops the *os.PathError wrapper, whose text repeats the path.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok { //nolint:errorlint // only the direct wrapper is dropped
		return pe.Err
	}
	return err
}

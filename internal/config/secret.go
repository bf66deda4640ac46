package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// Secret holds a credential read from a file or the environment. It never
// prints its value: fmt, %v, %+v, %#v, JSON and YAML all render "<secret>".
// Call Reveal only where the value is handed to a client. Compare secrets
// with Reveal, not ==.
type Secret struct {
	// value sits behind a pointer because fmt cannot always call Format:
	// not through an unexported field (struct{ s Secret }), and not in the
	// %!s(...) text it writes for a bad verb. There it prints the fields
	// raw, and a pointer field prints as an address, never as the string.
	value *string
}

// NewSecret wraps a value (for tests and for values resolved at load time).
func NewSecret(v string) Secret { return Secret{value: &v} }

// Reveal returns the secret value.
func (s Secret) Reveal() string {
	if s.value == nil {
		return ""
	}
	return *s.value
}

// IsSet reports whether the secret has a non-empty value.
func (s Secret) IsSet() bool { return s.Reveal() != "" }

func (s Secret) String() string {
	if !s.IsSet() {
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

// ReadSecretFile reads a secret file (at most 64 KiB) and trims surrounding white space (a
// trailing newline from `echo > file` is the norm). The error never contains
// the content.
func ReadSecretFile(path string) (Secret, error) {
	b, err := readFileLimited(path, maxSecretFileSize)
	if err != nil {
		return Secret{}, fmt.Errorf("cannot read secret file %q: %w", path, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return Secret{}, fmt.Errorf("secret file %q is empty", path)
	}
	return NewSecret(v), nil
}

// Size limits for files named in the config: a path mistyped as /dev/zero or
// a log file must fail to load, not exhaust memory.
const (
	maxSecretFileSize = 64 << 10
	maxCAFileSize     = 4 << 20
)

// readFileLimited reads at most limit bytes of path. Its errors do not repeat
// the path (callers name it) and never contain the content.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path) // #nosec G304 -- the path comes from the operator's config
	if err != nil {
		return nil, unwrapPathError(err)
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d KiB", limit>>10)
	}
	return b, nil
}

// envNameRE is what a POSIX shell accepts as a variable name.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func readSecretEnv(name string) (Secret, error) {
	if !envNameRE.MatchString(name) {
		// Most likely the secret itself was written here: do not echo it.
		return Secret{}, errors.New("must be the name of an environment variable (letters, digits and _), not a value")
	}
	v, ok := os.LookupEnv(name)
	if !ok {
		return Secret{}, fmt.Errorf("environment variable %s is not set", name)
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return Secret{}, fmt.Errorf("environment variable %s is empty", name)
	}
	return NewSecret(v), nil
}

// unwrapPathError drops the *os.PathError wrapper, whose text repeats the path.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok { //nolint:errorlint // only the direct wrapper is dropped
		return pe.Err
	}
	return err
}

package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads, decodes and validates the config file at path, and resolves
// the secrets it names. On any problem it returns Errors listing all of them.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- operator-supplied path
	if err != nil {
		return nil, fmt.Errorf("cannot read config: %w", err)
	}
	cfg, err := Parse(b)
	if err != nil {
		return nil, err
	}
	cfg.Path = path
	return cfg, nil
}

// Parse decodes and validates a config document.
//
// Decoding and validation errors are reported together, so that one run of
// `drwatch check` lists every problem. A validation error is left out when a
// decoding error in the same object may have caused it: a field that failed
// to decode is left unset, and "is required" or a comparison with a default
// would only mislead.
func Parse(b []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, Errors{syntaxError(b, err)}
	}
	if root.Kind == 0 || len(root.Content) == 0 || isNull(root.Content[0]) {
		return nil, Errors{{Msg: "config is empty"}}
	}
	doc := root.Content[0]
	d := &decoder{lines: map[string]int{}, budget: decodeBudget(doc)}
	cfg := &Config{}
	d.decode(doc, reflect.ValueOf(cfg).Elem(), "")
	if d.budget < 0 {
		return nil, Errors{{Line: doc.Line, Msg: "aliases expand to too many values; is an anchor repeated inside itself?"}}
	}
	v := &validator{lines: d.lines}
	v.config(cfg)
	errs := d.errs
	for _, ve := range v.errs {
		if !shadowed(ve.Path, d.errs) {
			errs = append(errs, ve)
		}
	}
	if len(errs) > 0 {
		return nil, errs.sorted()
	}
	return cfg, nil
}

// syntaxError turns a YAML parser error into a FieldError on the line at
// fault. For some errors ("did not find expected key", the usual result of a
// mis-indented key) the parser names the line where the enclosing mapping
// starts, which may be far above the mistake; the first prefix of the file
// that fails the same way ends at the line at fault.
func syntaxError(b []byte, err error) *FieldError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	rest, line := msg, 0
	if after, ok := strings.CutPrefix(msg, "line "); ok {
		num, text, found := strings.Cut(after, ": ")
		if n, convErr := strconv.Atoi(num); convErr == nil && found {
			rest, line = text, n
		}
	}
	if line == 0 {
		return &FieldError{Msg: msg}
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	if line < len(lines) {
		// Binary search: prefixes that end before the mistake parse (or fail
		// otherwise), longer ones fail the same way. The whole file fails.
		fails := func(n int) bool {
			var node yaml.Node
			err := yaml.Unmarshal(bytes.Join(lines[:n], nil), &node)
			return err != nil && strings.HasSuffix(err.Error(), ": "+rest)
		}
		line += sort.Search(len(lines)-line, func(i int) bool { return fails(line + i) })
	}
	switch {
	case strings.Contains(rest, "tab"):
	case line <= len(lines) && bytes.ContainsRune(lines[line-1], '\t'):
		rest += " (YAML does not allow tabs for indentation)"
	case rest == "did not find expected key":
		rest += " (check the indentation)"
	case strings.Contains(rest, "unexpected end of stream"):
		rest += " (is a quote or bracket left open?)"
	}
	return &FieldError{Line: line, Msg: rest}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// shadowed reports whether a validation error at path may be a consequence
// of one of the decoding errors: it is in the object (struct or map) that
// holds a field that failed to decode, or below it. A list item that failed
// shadows only itself, and so does a failed top-level key, since list items
// and top-level keys are independent of their siblings.
func shadowed(path string, decodeErrs Errors) bool {
	for _, de := range decodeErrs {
		scope := de.Path
		if i := strings.LastIndexByte(scope, '.'); i >= 0 && !strings.HasSuffix(scope, "]") {
			scope = scope[:i]
		}
		if scope == "" || path == scope || strings.HasPrefix(path, scope+".") || strings.HasPrefix(path, scope+"[") {
			return true
		}
	}
	return false
}

// AsErrors returns the field errors inside err, if it holds any.
func AsErrors(err error) (Errors, bool) {
	var es Errors
	if errors.As(err, &es) {
		return es, true
	}
	return nil, false
}

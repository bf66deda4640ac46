package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
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
func Parse(b []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, Errors{{Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, Errors{{Msg: "config is empty"}}
	}
	doc := root.Content[0]
	d := &decoder{lines: map[string]int{}}
	cfg := &Config{}
	d.decode(doc, reflect.ValueOf(cfg).Elem(), "")
	if len(d.errs) > 0 {
		return nil, d.errs.sorted()
	}
	v := &validator{lines: d.lines}
	v.config(cfg)
	if len(v.errs) > 0 {
		return nil, v.errs.sorted()
	}
	return cfg, nil
}

// AsErrors returns the field errors inside err, if it holds any.
func AsErrors(err error) (Errors, bool) {
	var es Errors
	if errors.As(err, &es) {
		return es, true
	}
	return nil, false
}

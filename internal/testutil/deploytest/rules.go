package deploytest

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// RuleFile is a Prometheus rule file.
type RuleFile struct {
	Groups []RuleGroup `yaml:"groups"`
}

// RuleGroup is one group of a rule file.
type RuleGroup struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval"`
	Rules    []Rule `yaml:"rules"`
}

// Rule is an alerting rule (Alert set) or a recording rule (Record set).
type Rule struct {
	Alert         string            `yaml:"alert"`
	Record        string            `yaml:"record"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for"`
	KeepFiringFor string            `yaml:"keep_firing_for"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
}

// LoadRules reads a rule file; a key Prometheus does not know is an error.
func LoadRules(path string) (RuleFile, error) {
	b, err := os.ReadFile(path) //nolint:gosec // a file of the repository the caller names
	if err != nil {
		return RuleFile{}, err
	}
	var f RuleFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return RuleFile{}, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Alerts returns the file's alerting rules in order.
func (f RuleFile) Alerts() []Rule {
	var out []Rule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out = append(out, r)
			}
		}
	}
	return out
}

// ShortenFor returns the rule file data with every alert's `for` longer
// than limit set to limit, and everything else as it was: for a test that
// cannot wait minutes for an alert, without weakening the shipped file.
func ShortenFor(data []byte, limit time.Duration) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	groups := mapValue(&doc, "groups")
	if groups == nil || groups.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("no groups in the rule file")
	}
	for _, g := range groups.Content {
		rules := mapValue(g, "rules")
		if rules == nil {
			continue
		}
		for _, r := range rules.Content {
			f := mapValue(r, "for")
			if f == nil {
				continue
			}
			d, err := model.ParseDuration(f.Value)
			if err != nil {
				return nil, fmt.Errorf("line %d: for: %w", f.Line, err)
			}
			if time.Duration(d) > limit {
				f.Value = model.Duration(limit).String()
			}
		}
	}
	return yaml.Marshal(&doc)
}

// mapValue returns the value of key in a mapping node (or a document
// holding one), nil when absent.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

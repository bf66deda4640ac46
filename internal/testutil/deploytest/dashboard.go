package deploytest

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Dashboard is the part of a Grafana dashboard's JSON model the tests read.
type Dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []Panel `json:"panels"`
	Templating    struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// Panel is a dashboard panel; a row holds its panels while collapsed.
type Panel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Datasource  *Datasource `json:"datasource"`
	Targets     []Target    `json:"targets"`
	Panels      []Panel     `json:"panels"`
	GridPos     *GridPos    `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Mappings []ValueMapping `json:"mappings"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

// Target is one query of a panel.
type Target struct {
	RefID        string      `json:"refId"`
	Expr         string      `json:"expr"`
	LegendFormat string      `json:"legendFormat"`
	Datasource   *Datasource `json:"datasource"`
}

// Datasource names a data source by type and uid (here "${datasource}").
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// GridPos is where a panel sits.
type GridPos struct {
	H, W, X, Y int
}

// ValueMapping is a Grafana value mapping; only type "value" is read.
type ValueMapping struct {
	Type    string `json:"type"`
	Options map[string]struct {
		Text  string `json:"text"`
		Color string `json:"color"`
	} `json:"options"`
}

// Variable is a template variable.
type Variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"` // a string, or an object with a "query" string
	Datasource *Datasource     `json:"datasource"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
}

// QueryText returns the variable's query as a string.
func (v Variable) QueryText() (string, error) {
	var s string
	if err := json.Unmarshal(v.Query, &s); err == nil {
		return s, nil
	}
	var o struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(v.Query, &o); err != nil {
		return "", fmt.Errorf("variable %s: query is neither a string nor an object with a query: %s", v.Name, v.Query)
	}
	return o.Query, nil
}

// LoadDashboard reads a dashboard's JSON model.
func LoadDashboard(path string) (Dashboard, error) {
	b, err := os.ReadFile(path) //nolint:gosec // a file of the repository the caller names
	if err != nil {
		return Dashboard{}, err
	}
	var d Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return Dashboard{}, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// AllPanels returns every panel, those inside collapsed rows too.
func (d Dashboard) AllPanels() []Panel {
	var out []Panel
	var walk func([]Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// Variable returns the template variable called name.
func (d Dashboard) Variable(name string) (Variable, bool) {
	for _, v := range d.Templating.List {
		if v.Name == name {
			return v, true
		}
	}
	return Variable{}, false
}

// MappedText returns the text a value mapping of the panel gives value.
func (p Panel) MappedText(value string) (string, bool) {
	for _, m := range p.FieldConfig.Defaults.Mappings {
		if m.Type != "value" {
			continue
		}
		if o, ok := m.Options[value]; ok {
			return o.Text, true
		}
	}
	return "", false
}

// Expand replaces Grafana's variables in a query, written $name or
// ${name}, with vars[name]. A variable vars lacks is an error; $ followed
// by a digit (a regex group in label_replace) is left alone.
func Expand(expr string, vars map[string]string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(expr); i++ {
		if expr[i] != '$' {
			b.WriteByte(expr[i])
			continue
		}
		rest := expr[i+1:]
		var name string
		var n int // bytes after the $
		if strings.HasPrefix(rest, "{") {
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return "", fmt.Errorf("unclosed ${ in %q", expr)
			}
			name, n = rest[1:end], end+1
			if strings.Contains(name, ":") {
				return "", fmt.Errorf("${%s}: formats are not supported (in %q)", name, expr)
			}
		} else {
			for n < len(rest) && isNameByte(rest[n]) {
				n++
			}
			name = rest[:n]
		}
		if name == "" || (name[0] >= '0' && name[0] <= '9') {
			b.WriteByte('$')
			continue
		}
		v, ok := vars[name]
		if !ok {
			return "", fmt.Errorf("unknown variable $%s in %q", name, expr)
		}
		b.WriteString(v)
		i += n
	}
	return b.String(), nil
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

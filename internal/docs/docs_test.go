package docs_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/policy"
)

// Paths are relative to this package's directory, where go test runs.
const (
	docsDir   = "../../docs"
	policyDir = "../policy"
	apiDir    = "../api"
)

// ---------------------------------------------------------------------------
// Metrics: docs/metrics.md
// ---------------------------------------------------------------------------

// family is a registered metric as /metrics shows it.
type family struct {
	typ    string   // gauge, counter, histogram, ...
	labels []string // sorted label names
}

// registeredMetrics returns every metric family metrics.New registers, with
// every vector given a series: InitPair creates most, the rest exist once
// something happens (a state set, an event, an index's lag). It also
// returns the descriptors of every registered metric, as text.
func registeredMetrics(t *testing.T) (map[string]family, []string) {
	t.Helper()
	m := metrics.New()
	m.InitPair("p")
	m.InitAiven("p")
	m.InitHA("p")
	phases := make([]string, len(policy.Phases))
	for i, p := range policy.Phases {
		phases[i] = string(p)
	}
	m.SetState("p", string(policy.Healthy), phases)
	for _, ev := range config.Events {
		m.Events.WithLabelValues("p", ev)
	}
	m.InitHook("h")
	m.InitDrill("d")
	m.DrillLastSuccess.WithLabelValues("d")
	m.DrillDuration.WithLabelValues("d")
	m.ReadinessScore.WithLabelValues("p")
	m.Observe(observe.Observation{Pair: "p", Follower: observe.Follower{Reachable: true,
		Replication: observe.Replication{Indices: []observe.Index{{Name: "i", LagKnown: true}}}}})

	fams, err := m.Reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]family{}
	for _, f := range fams {
		var labels []string
		if len(f.GetMetric()) > 0 {
			for _, lp := range f.GetMetric()[0].GetLabel() {
				labels = append(labels, lp.GetName())
			}
		}
		sort.Strings(labels)
		out[f.GetName()] = family{typ: strings.ToLower(f.GetType().String()), labels: labels}
	}

	// A vector without a series is registered but not gathered: it would
	// escape the checks below. Every descriptor must have shown up.
	descs := make(chan *prometheus.Desc)
	go func() { m.Reg.Describe(descs); close(descs) }()
	var described []string
	for d := range descs {
		s := d.String()
		described = append(described, s)
		if !strings.Contains(s, `fqName: "drwatch_`) {
			continue
		}
		found := false
		for name := range out {
			if strings.Contains(s, `fqName: "`+name+`"`) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("a metric is registered but has no series after InitPair, so this test cannot see it: %s; give it one in registeredMetrics (or initialise it in InitPair)", s)
		}
	}
	return out, described
}

func TestMetricsDocumented(t *testing.T) {
	reg, described := registeredMetrics(t)
	doc := parseDoc(t, "metrics.md")

	type docMetric struct {
		row    row
		typ    string
		labels []string
	}
	documented := map[string]docMetric{}
	reserved := map[string]row{}
	var patterns []string // go_*, process_*: collectors drwatch does not define
	for _, tb := range doc.tables {
		switch tb.col(0) {
		case "metric":
			typCol, labCol := tb.index("type"), tb.index("labels")
			if typCol < 0 || labCol < 0 {
				t.Errorf("%s: a metric table needs the columns type and labels (has %s)", tb.pos(), strings.Join(tb.header, ", "))
				continue
			}
			for _, r := range tb.rows {
				name, ok := r.single(0)
				if !ok {
					t.Errorf("%s: the metric cell must hold exactly one `name`: %q", r.pos(doc.name), r.cell(0))
					continue
				}
				if strings.HasSuffix(name, "*") {
					patterns = append(patterns, strings.TrimSuffix(name, "*"))
					continue
				}
				if prev, dup := documented[name]; dup {
					t.Errorf("%s: %s is documented twice (first at line %d)", r.pos(doc.name), name, prev.row.line)
				}
				labels := r.spans(labCol)
				sort.Strings(labels)
				documented[name] = docMetric{row: r, typ: strings.ToLower(strings.TrimSpace(r.cell(typCol))), labels: labels}
			}
		case "reserved name":
			for _, r := range tb.rows {
				name, ok := r.single(0)
				if !ok {
					t.Errorf("%s: the reserved-name cell must hold exactly one `name`: %q", r.pos(doc.name), r.cell(0))
					continue
				}
				reserved[name] = r
			}
		}
	}
	if len(documented) == 0 {
		t.Fatalf("docs/%s: no table whose first column is \"metric\"", doc.name)
	}

	for _, name := range sortedKeys(reg) {
		f := reg[name]
		if !strings.HasPrefix(name, "drwatch_") {
			if !slices.ContainsFunc(patterns, func(p string) bool { return strings.HasPrefix(name, p) }) {
				t.Errorf("docs/%s: registered metric %s is not covered by any `prefix*` row of a metric table", doc.name, name)
			}
			continue
		}
		d, ok := documented[name]
		if !ok {
			t.Errorf("docs/%s: registered metric %s (%s, labels %s) has no row in a metric table", doc.name, name, f.typ, labelText(f.labels))
			continue
		}
		if d.typ != f.typ {
			t.Errorf("%s: %s is documented as %q, registered as %q", d.row.pos(doc.name), name, d.typ, f.typ)
		}
		if !slices.Equal(d.labels, f.labels) {
			t.Errorf("%s: %s is documented with labels %s, registered with %s", d.row.pos(doc.name), name, labelText(d.labels), labelText(f.labels))
		}
	}
	for _, name := range sortedKeys(documented) {
		seriesless := slices.ContainsFunc(described, func(d string) bool { return strings.Contains(d, `fqName: "`+name+`"`) })
		if _, ok := reg[name]; !ok && !seriesless {
			t.Errorf("%s: documented metric %s is not registered by metrics.New (renamed or removed? a name not exported yet belongs in the \"reserved name\" table)", documented[name].row.pos(doc.name), name)
		}
	}
	for _, name := range sortedKeys(reserved) {
		if _, ok := reg[name]; ok {
			t.Errorf("%s: %s is listed as reserved (not exported yet) but metrics.New registers it: move it to a metric table", reserved[name].pos(doc.name), name)
		}
		if _, ok := documented[name]; ok {
			t.Errorf("%s: %s is both reserved and documented as exported", reserved[name].pos(doc.name), name)
		}
	}
}

func labelText(l []string) string {
	if len(l) == 0 {
		return "(none)"
	}
	return "{" + strings.Join(l, ",") + "}"
}

// ---------------------------------------------------------------------------
// Configuration: docs/configuration.md
// ---------------------------------------------------------------------------

var (
	durationType = reflect.TypeFor[config.Duration]()
	scheduleType = reflect.TypeFor[config.Schedule]()
)

// configKeys returns the YAML path of every key the config decoder accepts,
// written as the docs write them: list items as [] ("pairs[].name") and the
// keys of a map of objects as <name> ("policies.<name>.mode"). It walks the
// structs by their yaml tags as internal/config/decode.go does: Duration and
// Schedule are scalars, pointers are followed, a map of scalars is one key.
func configKeys() map[string]bool {
	keys := map[string]bool{}
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t == durationType || t == scheduleType {
			return
		}
		switch t.Kind() {
		case reflect.Struct:
			for i := range t.NumField() {
				f := t.Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				if name == "" || name == "-" {
					continue
				}
				p := name
				if path != "" {
					p = path + "." + name
				}
				keys[p] = true
				walk(f.Type, p)
			}
		case reflect.Slice:
			walk(t.Elem(), path+"[]")
		case reflect.Map:
			walk(t.Elem(), path+".<name>")
		}
	}
	walk(reflect.TypeFor[config.Config](), "")
	return keys
}

func TestConfigKeysDocumented(t *testing.T) {
	keys := configKeys()
	doc := parseDoc(t, "configuration.md")

	documented := map[string]row{}
	for _, tb := range doc.tables {
		if tb.col(0) != "key" {
			continue
		}
		for _, r := range tb.rows {
			spans := r.spans(0)
			if len(spans) == 0 {
				t.Errorf("%s: the key cell must hold the key's YAML path in backticks: %q", r.pos(doc.name), r.cell(0))
			}
			for _, k := range spans {
				if prev, dup := documented[k]; dup {
					t.Errorf("%s: %s is documented twice (first at line %d)", r.pos(doc.name), k, prev.line)
				}
				documented[k] = r
			}
		}
	}
	if len(documented) == 0 {
		t.Fatalf("docs/%s: no table whose first column is \"key\"", doc.name)
	}
	for _, k := range sortedKeys(keys) {
		if _, ok := documented[k]; !ok {
			t.Errorf("docs/%s: config key %s has no row in a key table", doc.name, k)
		}
	}
	for _, k := range sortedKeys(documented) {
		if !keys[k] {
			t.Errorf("%s: documented key %s is not a config key (the decoder would reject it)", documented[k].pos(doc.name), k)
		}
	}

	// The examples use real keys only.
	n := 0
	for _, b := range doc.code {
		if b.lang != "yaml" {
			continue
		}
		n++
		var root yaml.Node
		if err := yaml.Unmarshal([]byte(b.text), &root); err != nil {
			t.Errorf("docs/%s:%d: example is not valid YAML: %v", doc.name, b.line, err)
			continue
		}
		for _, bad := range unknownKeys(&root, reflect.TypeFor[config.Config](), "") {
			t.Errorf("docs/%s:%d: the example uses %s (line %d of the example), which is not a config key", doc.name, b.line, bad.path, bad.line)
		}
	}
	if n == 0 {
		t.Errorf("docs/%s: no ```yaml example", doc.name)
	}
}

type badKey struct {
	path string
	line int
}

// unknownKeys walks a YAML document along the config structs and returns
// the keys no struct field has.
func unknownKeys(n *yaml.Node, t reflect.Type, path string) []badKey {
	for n.Kind == yaml.DocumentNode || n.Kind == yaml.AliasNode {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else {
			n = n.Content[0]
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType || t == scheduleType {
		return nil
	}
	var out []badKey
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			f, ok := fieldByTag(t, k.Value)
			if !ok {
				out = append(out, badKey{p, k.Line})
				continue
			}
			out = append(out, unknownKeys(v, f.Type, p)...)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, unknownKeys(n.Content[i+1], t.Elem(), path+"."+n.Content[i].Value)...)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			out = append(out, unknownKeys(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == key && name != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// ---------------------------------------------------------------------------
// Events: docs/events.md
// ---------------------------------------------------------------------------

// parseDir parses the non-test Go files of dir.
func parseDir(t *testing.T, dir string) (*token.FileSet, []*ast.File) {
	t.Helper()
	fset := token.NewFileSet()
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	var files []*ast.File
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
		files = append(files, f)
	}
	return fset, files
}

// policyEvents returns the Ev* string constants declared in the policy
// package's source (the events the code raises), by constant name.
func policyEvents(t *testing.T) map[string]string {
	t.Helper()
	fset, files := parseDir(t, policyDir)
	out := map[string]string{}
	for _, f := range files {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !isEventConst(id.Name) || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Errorf("%s: %s is not a string literal", fset.Position(id.Pos()), id.Name)
						continue
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatalf("%s: %v", fset.Position(lit.Pos()), err)
					}
					out[id.Name] = v
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no Ev* constants found in %s", policyDir)
	}
	return out
}

// isEventConst reports whether a constant name is EvSomething.
func isEventConst(name string) bool {
	return len(name) > 2 && strings.HasPrefix(name, "Ev") && name[2] >= 'A' && name[2] <= 'Z'
}

func TestEventsDocumented(t *testing.T) {
	consts := policyEvents(t)
	raised := map[string]string{} // event -> constant
	for c, ev := range consts {
		raised[ev] = c
		if !slices.Contains(config.Events, ev) {
			t.Errorf("policy.%s = %q is not in config.Events: hooks could not subscribe to it", c, ev)
		}
	}
	known := map[string]bool{}
	for _, ev := range config.Events {
		known[ev] = true
	}
	for ev := range raised {
		known[ev] = true
	}

	doc := parseDoc(t, "events.md")
	documented := map[string]row{}
	for _, tb := range doc.tables {
		if tb.col(0) != "event" {
			continue
		}
		raisedCol := tb.index("raised")
		if raisedCol < 0 {
			t.Errorf("%s: an event table needs a \"raised\" column (yes or no: does this version raise it?)", tb.pos())
			continue
		}
		for _, r := range tb.rows {
			ev, ok := r.single(0)
			if !ok {
				t.Errorf("%s: the event cell must hold exactly one `name`: %q", r.pos(doc.name), r.cell(0))
				continue
			}
			if prev, dup := documented[ev]; dup {
				t.Errorf("%s: %s is documented twice (first at line %d)", r.pos(doc.name), ev, prev.line)
			}
			documented[ev] = r
			if !known[ev] {
				t.Errorf("%s: documented event %s is neither in config.Events nor a policy Ev* constant", r.pos(doc.name), ev)
				continue
			}
			cell := strings.ToLower(strings.TrimSpace(r.cell(raisedCol)))
			c, isRaised := raised[ev]
			switch {
			case isRaised && !strings.HasPrefix(cell, "yes"):
				t.Errorf("%s: %s is raised by this version (policy.%s) but its raised cell says %q", r.pos(doc.name), ev, c, r.cell(raisedCol))
			case !isRaised && !strings.HasPrefix(cell, "no"):
				t.Errorf("%s: %s has no policy Ev* constant, so nothing raises it, but its raised cell says %q", r.pos(doc.name), ev, r.cell(raisedCol))
			}
		}
	}
	for _, ev := range sortedKeys(known) {
		if _, ok := documented[ev]; !ok {
			t.Errorf("docs/%s: event %s has no row in an event table", doc.name, ev)
		}
	}
}

// ---------------------------------------------------------------------------
// HTTP routes: docs/api.md
// ---------------------------------------------------------------------------

// routes returns the patterns ("GET /metrics") the api package registers
// on its mux: the string literal passed to Handle or HandleFunc.
func routes(t *testing.T) map[string]string {
	t.Helper()
	fset, files := parseDir(t, apiDir)
	out := map[string]string{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if p, err := strconv.Unquote(lit.Value); err == nil {
				out[p] = fset.Position(lit.Pos()).String()
			}
			return true
		})
	}
	if len(out) == 0 {
		t.Fatalf("no mux.Handle/HandleFunc routes found in %s", apiDir)
	}
	return out
}

func isRoute(s string) bool {
	method, path, ok := strings.Cut(s, " ")
	return ok && strings.HasPrefix(path, "/") && method != "" && strings.ToUpper(method) == method
}

func TestRoutesDocumented(t *testing.T) {
	reg := routes(t)
	doc := parseDoc(t, "api.md")
	documented := map[string]int{}
	for _, h := range doc.headings {
		for _, s := range codeSpans(h.text) {
			if isRoute(s) {
				documented[s] = h.line
			}
		}
	}
	for _, r := range sortedKeys(reg) {
		if _, ok := documented[r]; !ok {
			t.Errorf("docs/%s: route %s (%s) has no heading naming it as `%s`", doc.name, r, reg[r], r)
		}
	}
	for _, r := range sortedKeys(documented) {
		if _, ok := reg[r]; !ok {
			t.Errorf("docs/%s:%d: documented route %s is not registered by the API", doc.name, documented[r], r)
		}
	}
}

// ---------------------------------------------------------------------------
// Markdown, read structurally: headings, tables (GitHub pipe tables) and
// fenced code blocks; nothing inside a code block counts as a heading or a
// table.
// ---------------------------------------------------------------------------

type doc struct {
	name     string
	headings []heading
	tables   []table
	code     []codeBlock
}

type heading struct {
	line int
	text string
}

type codeBlock struct {
	line int // of the opening fence
	lang string
	text string
}

type table struct {
	file   string
	line   int
	header []string // lower-cased
	rows   []row
}

type row struct {
	line  int
	cells []string
}

func (tb table) col(i int) string {
	if i < len(tb.header) {
		return tb.header[i]
	}
	return ""
}

func (tb table) index(name string) int { return slices.Index(tb.header, name) }

func (tb table) pos() string { return fmt.Sprintf("docs/%s:%d", tb.file, tb.line) }

func (r row) cell(i int) string {
	if i < len(r.cells) {
		return r.cells[i]
	}
	return ""
}

func (r row) spans(i int) []string { return codeSpans(r.cell(i)) }

// single returns the cell's only code span.
func (r row) single(i int) (string, bool) {
	s := r.spans(i)
	if len(s) != 1 {
		return "", false
	}
	return s[0], true
}

func (r row) pos(file string) string { return fmt.Sprintf("docs/%s:%d", file, r.line) }

func parseDoc(t *testing.T, name string) doc {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(docsDir, name))
	if err != nil {
		t.Fatalf("docs/%s: %v", name, err)
	}
	return parseMarkdown(name, string(b))
}

func parseMarkdown(name, text string) doc {
	d := doc{name: name}
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "```"):
			fence := trimmed[:strings.LastIndex(trimmed, "`")+1]
			b := codeBlock{line: i + 1, lang: strings.TrimSpace(strings.TrimPrefix(trimmed, fence))}
			var body []string
			for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), fence); i++ {
				body = append(body, lines[i])
			}
			b.text = strings.Join(body, "\n")
			d.code = append(d.code, b)
		case strings.HasPrefix(line, "#"):
			d.headings = append(d.headings, heading{line: i + 1, text: strings.TrimSpace(strings.TrimLeft(line, "#"))})
		case strings.HasPrefix(trimmed, "|") && i+1 < len(lines) && isDelimiterRow(lines[i+1]):
			tb := table{file: name, line: i + 1}
			for _, c := range splitRow(trimmed) {
				tb.header = append(tb.header, strings.ToLower(c))
			}
			for i += 2; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "|"); i++ {
				tb.rows = append(tb.rows, row{line: i + 1, cells: splitRow(strings.TrimSpace(lines[i]))})
			}
			i-- // the loop's i++ moves to the line after the table
			d.tables = append(d.tables, tb)
		}
	}
	return d
}

func isDelimiterRow(line string) bool {
	cells := splitRow(strings.TrimSpace(line))
	if len(cells) == 0 {
		return false
	}
	for _, c := range cells {
		if strings.Trim(c, ":-") != "" || !strings.Contains(c, "-") {
			return false
		}
	}
	return true
}

// splitRow splits "| a | b \| c |" into ["a", "b | c"]: cells are separated
// by unescaped pipes, as GitHub renders them (also inside code spans).
func splitRow(line string) []string {
	line = strings.TrimPrefix(line, "|")
	if strings.HasSuffix(line, "|") && !strings.HasSuffix(line, `\|`) {
		line = strings.TrimSuffix(line, "|")
	}
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// codeSpans returns the contents of the single-backtick code spans in s.
func codeSpans(s string) []string {
	var out []string
	for {
		start := strings.IndexByte(s, '`')
		if start < 0 {
			return out
		}
		end := strings.IndexByte(s[start+1:], '`')
		if end < 0 {
			return out
		}
		out = append(out, s[start+1:start+1+end])
		s = s[start+1+end+1:]
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestMarkdownParser pins the structural reading the checks above rely on.
func TestMarkdownParser(t *testing.T) {
	md := strings.Join([]string{
		"# Title with `GET /x`",
		"",
		"| key | default |",
		"|---|:-:|",
		"| `a.b`, `c[].d` | `x\\|y` |",
		"| `e` | - |",
		"",
		"```yaml",
		"# not a heading",
		"| not | a table |",
		"|---|---|",
		"```",
		"text | with a pipe",
	}, "\n")
	d := parseMarkdown("t.md", md)
	if len(d.headings) != 1 || d.headings[0].text != "Title with `GET /x`" {
		t.Fatalf("headings = %+v", d.headings)
	}
	if len(d.tables) != 1 {
		t.Fatalf("tables = %+v", d.tables)
	}
	tb := d.tables[0]
	if tb.col(0) != "key" || len(tb.rows) != 2 || tb.rows[0].line != 5 {
		t.Fatalf("table = %+v", tb)
	}
	if got := tb.rows[0].spans(0); !slices.Equal(got, []string{"a.b", "c[].d"}) {
		t.Fatalf("spans = %q", got)
	}
	if got, _ := tb.rows[0].single(1); got != "x|y" {
		t.Fatalf("escaped pipe: %q", got)
	}
	if len(d.code) != 1 || d.code[0].lang != "yaml" || !strings.Contains(d.code[0].text, "not a heading") {
		t.Fatalf("code = %+v", d.code)
	}
}

// docs/security.md's table of permissions is the permission table of
// internal/opensearch, row for row.
func TestSecurityPermissionsDocumented(t *testing.T) {
	doc := parseDoc(t, "security.md")
	documented := map[string]bool{}
	for _, tb := range doc.tables {
		if tb.col(0) != "side" || tb.col(2) != "action" {
			continue
		}
		for _, r := range tb.rows {
			role, action := r.spans(1), r.spans(2)
			if len(role) != 1 || len(action) != 1 {
				t.Errorf("%s: the role and the action must each be one span in backticks", r.pos(doc.name))
				continue
			}
			documented[r.cell(0)+" "+role[0]+" "+action[0]] = true
		}
	}
	want := map[string]bool{}
	for _, p := range opensearch.Permissions {
		k := string(p.Side) + " " + p.Role + " " + p.Action
		want[k] = true
		if !documented[k] {
			t.Errorf("docs/security.md: no row for %s", k)
		}
	}
	for k := range documented {
		if !want[k] {
			t.Errorf("docs/security.md: row %s is no permission drwatch needs (internal/opensearch/permissions.go)", k)
		}
	}
}

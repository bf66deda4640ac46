package config

import (
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"
)

// decoder maps a YAML node tree onto the config structs strictly: unknown
// keys and wrong types are errors that name the YAML path and line. It
// records the line of every path it visits so that validation can point at
// the right line too.
type decoder struct {
	errs  Errors
	lines map[string]int
	// budget is how many more nodes decode may visit. Aliases can make a
	// small document expand to a huge one ("billion laughs"); yaml.v3 guards
	// against that when it decodes into Go values, but not into nodes.
	budget int
}

// decodeBudget allows ten times the nodes written, plenty for anchors
// shared between pairs and policies, and bounded for an alias bomb.
func decodeBudget(doc *yaml.Node) int {
	count := 0
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		count++
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(doc)
	return 10*count + 10_000
}

var (
	durationType = reflect.TypeFor[Duration]()
	scheduleType = reflect.TypeFor[Schedule]()
)

func (d *decoder) fail(path string, n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &FieldError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.budget--; d.budget < 0 {
		return
	}
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = n.Line // list items and the root; keys set their own
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "key:" with no value leaves the default
	}
	switch v.Type() {
	case durationType:
		d.decodeDuration(n, v, path)
		return
	case scheduleType:
		d.decodeSchedule(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(path, n, "must be a string, not a %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, ok := scalarBool(n)
		if !ok {
			d.fail(path, n, "must be true or false, not %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.fail(path, n, "must be a whole number, not %s", describe(n))
			return
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil {
			d.fail(path, n, "must be a whole number, not %s", describe(n))
			return
		}
		v.SetInt(i)
	default:
		d.fail(path, n, "internal error: unsupported type %s", v.Type())
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(path, n, "must be a mapping (key: value), not %s", describe(n))
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(path, k, "keys must be plain names, not %s", describe(k))
			continue
		}
		key := k.Value
		p := join(path, key)
		if d.duplicate(seen, key, p, k) {
			continue
		}
		idx, ok := fields[key]
		if !ok {
			d.fail(p, k, "unknown field%s", didYouMean(suggest(key, fields)))
			continue
		}
		// Validation errors about a field point at its key: for a
		// mapping or list value that is the line naming it.
		d.lines[p] = k.Line
		d.decode(val, v.Field(idx), p)
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(path, n, "must be a mapping (key: value), not %s", describe(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(path, k, "keys must be plain names, not %s", describe(k))
			continue
		}
		if d.duplicate(seen, k.Value, join(path, k.Value), k) {
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.lines[join(path, k.Value)] = k.Line
		d.decode(val, elem, join(path, k.Value))
		v.SetMapIndex(reflect.ValueOf(k.Value), elem)
	}
}

// duplicate reports (and records as an error) a key already seen in the
// same mapping. The YAML parser accepts duplicates when it builds nodes, and
// silently letting the last one win would hide a mistake.
func (d *decoder) duplicate(seen map[string]int, key, path string, k *yaml.Node) bool {
	if first, dup := seen[key]; dup {
		d.fail(path, k, "duplicate key (first at line %d)", first)
		return true
	}
	seen[key] = k.Line
	return false
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(path, n, "must be a list, not %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Value != "0") {
		d.fail(path, n, "must be a duration such as 30s, 5m or 1h30m, not %s", describe(n))
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.fail(path, n, "must be a duration such as 30s, 5m or 1h30m, not %q", n.Value)
		return
	}
	if dur < 0 {
		d.fail(path, n, "must not be negative")
		return
	}
	v.Set(reflect.ValueOf(Duration(dur)))
}

func (d *decoder) decodeSchedule(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(path, n, "must be a cron schedule such as \"0 3 * * MON\", not %s", describe(n))
		return
	}
	s, err := cron.ParseStandard(n.Value)
	if err != nil {
		d.fail(path, n, "invalid cron schedule %s: %s; want \"minute hour day-of-month month day-of-week\" such as \"0 3 * * MON\", or a descriptor such as @daily", describe(n), cronProblem(err))
		return
	}
	v.Set(reflect.ValueOf(Schedule{Spec: n.Value, Sched: s}))
}

// cronProblem rewords robfig/cron's parse errors where they show internals.
func cronProblem(err error) string {
	msg := err.Error()
	// "failed to parse int from SUNDAY: strconv.Atoi: parsing ..."
	if rest, ok := strings.CutPrefix(msg, "failed to parse int from "); ok {
		field, _, _ := strings.Cut(rest, ":")
		return fmt.Sprintf("%q is neither a number nor a name such as MON or JAN", field)
	}
	// "expected exactly 5 fields, found 4: [0 3 * *]"
	if i := strings.Index(msg, ": ["); i >= 0 && strings.HasPrefix(msg, "expected exactly") {
		return msg[:i]
	}
	return msg
}

// yamlFields maps the yaml tag names of a struct to field indexes.
func yamlFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("yaml")
		name, _, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" {
			continue
		}
		m[name] = i
	}
	return m
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func scalarBool(n *yaml.Node) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		return false, false
	}
	switch strings.ToLower(n.Value) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	default:
		return "value"
	}
}

// describe names a node for an error message: a scalar by its value (a URL
// with its password redacted, and a long value cut short), anything else by
// its kind.
func describe(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return "a " + kindName(n)
	}
	v := n.Value
	if u, err := url.Parse(v); err == nil && u.User != nil {
		v = u.Redacted()
		if _, hasPassword := u.User.Password(); !hasPassword {
			// Redacted keeps a user without a password, which may be a token.
			u.User = url.User("xxxxx")
			v = u.String()
		}
	}
	const maxLen = 80
	if len(v) > maxLen {
		v = strings.ToValidUTF8(v[:maxLen], "") + "..."
	}
	return strconv.Quote(v)
}

// suggest returns the known keys an unknown one was probably meant to be:
// the closest one, or the variants it is the stem of ("password" for
// password_file and password_env).
func suggest(key string, fields map[string]int) []string {
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	if c := closest(key, names); c != "" {
		return []string{c}
	}
	var stems []string
	for _, f := range names {
		if strings.HasPrefix(f, key+"_") {
			stems = append(stems, f)
		}
	}
	sort.Strings(stems)
	return stems
}

// didYouMean formats suggestions for the end of a message.
func didYouMean(names []string) string {
	if len(names) == 0 {
		return ""
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return " (did you mean " + strings.Join(q, " or ") + "?)"
}

// closest returns the name nearest to s, or "" when none is near enough to
// be a typo. camelCase and kebab-case spellings of a name match it.
func closest(s string, names []string) string {
	names = slices.Clone(names)
	sort.Strings(names)
	norm := func(x string) string {
		return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(x))
	}
	for _, name := range names {
		if norm(name) == norm(s) {
			return name
		}
	}
	// Two edits at most, and fewer for short names, where two edits turn
	// any word into any other.
	best, bestDist := "", min(3, len(s)/2+1)
	for _, name := range names {
		if dist := levenshtein(s, name); dist < bestDist {
			best, bestDist = name, dist
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

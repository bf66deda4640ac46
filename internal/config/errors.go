package config

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem in a config file, at a YAML path and line.
type FieldError struct {
	Path string // e.g. "pairs[1].follower.url"; empty for the whole file
	Line int    // 1-based; 0 when unknown
	Msg  string
}

func (e *FieldError) Error() string {
	switch {
	case e.Path == "" && e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	case e.Path == "":
		return e.Msg
	case e.Line > 0:
		return fmt.Sprintf("%s (line %d): %s", e.Path, e.Line, e.Msg)
	default:
		return fmt.Sprintf("%s: %s", e.Path, e.Msg)
	}
}

// Errors is every problem found in a config file, in file order.
type Errors []*FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Path < es[j].Path
	})
	return es
}

package deploytest

import (
	"fmt"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Selector is a series selector of a PromQL expression: the metric name
// and its other label matchers.
type Selector struct {
	Metric   string
	Matchers []*labels.Matcher // without the name's
}

var promql = parser.NewParser(parser.Options{})

// Selectors parses a PromQL expression and returns its series selectors.
// A selector whose metric name is not a literal is an error: what it reads
// could not be checked.
func Selectors(expr string) ([]Selector, error) {
	e, err := promql.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var out []Selector
	var bad error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		s := Selector{Metric: vs.Name}
		for _, m := range vs.LabelMatchers {
			if m.Name != model.MetricNameLabel {
				s.Matchers = append(s.Matchers, m)
				continue
			}
			if m.Type != labels.MatchEqual {
				bad = fmt.Errorf("%s: the metric name must be a literal", vs)
			}
			s.Metric = m.Value
		}
		out = append(out, s)
		return nil
	})
	return out, bad
}

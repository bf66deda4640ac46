// Package markup reads HTML into a tree of elements for tests of the
// status page, with encoding/xml: strictly (every element closed, every
// attribute quoted, as internal/api/page.html is written, so that a tag
// the template leaves open fails the test), or leniently, for HTML a
// browser serialised (void elements unclosed, as `chromium --dump-dom`
// prints them).
package markup

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Node is an element: its name, attributes, child elements, and its text
// (its own and its descendants', in document order).
type Node struct {
	Name     string
	Attrs    map[string]string
	Children []*Node
	Parent   *Node
	text     strings.Builder
}

// Parse reads a document. strict: it must be well-formed markup.
func Parse(doc string, strict bool) (*Node, error) {
	d := xml.NewDecoder(strings.NewReader(doc))
	d.Strict = strict
	d.Entity = xml.HTMLEntity
	if !strict {
		d.AutoClose = xml.HTMLAutoClose
	}
	root := &Node{Name: "#document", Attrs: map[string]string{}}
	cur := root
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, col := d.InputPos()
			return nil, fmt.Errorf("line %d col %d: %w", line, col, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &Node{Name: strings.ToLower(t.Name.Local), Attrs: map[string]string{}, Parent: cur}
			for _, a := range t.Attr {
				n.Attrs[strings.ToLower(a.Name.Local)] = a.Value
			}
			cur.Children = append(cur.Children, n)
			if n.Name == "br" { // a line break separates words
				for a := cur; a != nil; a = a.Parent {
					a.text.WriteByte(' ')
				}
			}
			cur = n
		case xml.EndElement:
			if cur.Parent == nil {
				return nil, fmt.Errorf("end tag </%s> without a start", t.Name.Local)
			}
			cur = cur.Parent
		case xml.CharData:
			for n := cur; n != nil; n = n.Parent {
				n.text.Write(t)
			}
		}
	}
	if cur != root {
		return nil, fmt.Errorf("<%s> is not closed", cur.Name)
	}
	return root, nil
}

// Text is the element's text with white space collapsed.
func (n *Node) Text() string { return strings.Join(strings.Fields(n.text.String()), " ") }

// All is every element below n (depth first) for which match is true.
func (n *Node) All(match func(*Node) bool) []*Node {
	var out []*Node
	for _, c := range n.Children {
		if match(c) {
			out = append(out, c)
		}
		out = append(out, c.All(match)...)
	}
	return out
}

// ByAttr is every element below n whose attribute key is value.
func (n *Node) ByAttr(key, value string) []*Node {
	return n.All(func(c *Node) bool { v, ok := c.Attrs[key]; return ok && v == value })
}

// ByName is every element below n with the tag name.
func (n *Node) ByName(name string) []*Node {
	return n.All(func(c *Node) bool { return c.Name == name })
}

// ID is the element below n with the id, or nil.
func (n *Node) ID(id string) *Node {
	if m := n.ByAttr("id", id); len(m) > 0 {
		return m[0]
	}
	return nil
}

// HasClass reports whether the element's class attribute names c.
func (n *Node) HasClass(c string) bool {
	for _, f := range strings.Fields(n.Attrs["class"]) {
		if f == c {
			return true
		}
	}
	return false
}

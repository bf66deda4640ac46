package markup

import "testing"

func TestStrictRefusesWhatABrowserForgives(t *testing.T) {
	for _, doc := range []string{
		`<html><body><p>open</body></html>`,
		`<html><body><input name="x"></body></html>`,
		`<html><body><a href=x>unquoted</a></body></html>`,
		`<p>one</p><p>two`,
	} {
		if _, err := Parse(doc, true); err == nil {
			t.Errorf("strict parse accepted %s", doc)
		}
	}
}

func TestLenientReadsADumpedDOM(t *testing.T) {
	doc := `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>x</title></head><body>
<section data-state="healthy" id="pair-lab"><span class="badge big" data-label="state">✓ HEALTHY</span>
<input type="hidden" name="id" value="req-1"><br>a&nbsp;b &amp; c</section></body></html>`
	root, err := Parse(doc, false)
	if err != nil {
		t.Fatal(err)
	}
	s := root.ID("pair-lab")
	if s == nil || s.Attrs["data-state"] != "healthy" {
		t.Fatalf("section %v", s)
	}
	badge := s.ByAttr("data-label", "state")
	if len(badge) != 1 || badge[0].Text() != "✓ HEALTHY" || !badge[0].HasClass("big") || badge[0].HasClass("bi") {
		t.Fatalf("badge %v", badge)
	}
	if in := s.ByName("input"); len(in) != 1 || in[0].Attrs["value"] != "req-1" || len(in[0].Children) != 0 {
		t.Fatalf("input %v", in)
	}
	if got, want := s.Text(), "✓ HEALTHY a b & c"; got != want { // white space collapsed, nbsp too
		t.Fatalf("text %q, want %q", got, want)
	}
}

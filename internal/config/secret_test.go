package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const secretValue = "s3cr3t-hunter2-value"

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret(secretValue)
	if s.Reveal() != secretValue || !s.IsSet() {
		t.Fatalf("Reveal() = %q, IsSet() = %v", s.Reveal(), s.IsSet())
	}

	type holder struct {
		Name  string
		Token Secret
		Ptr   *Secret
	}
	type hidden struct {
		name  string
		token Secret // unexported: fmt cannot call its methods
	}
	h := holder{Name: "x", Token: s, Ptr: &s}

	for _, tc := range []struct{ what, got, want string }{
		{"%s", fmt.Sprintf("%s", s), "<secret>"},
		{"%v", fmt.Sprintf("%v", s), "<secret>"},
		{"%+v", fmt.Sprintf("%+v", s), "<secret>"},
		{"%#v", fmt.Sprintf("%#v", s), "<secret>"},
		{"%q", fmt.Sprintf("%q", s), "<secret>"},
		{"%x", fmt.Sprintf("%x", s), "<secret>"},
		{"%10s", fmt.Sprintf("%10s", s), "<secret>"},
		{"%v of *Secret", fmt.Sprintf("%v", &s), "<secret>"},
		{"Sprint", fmt.Sprint(s), "<secret>"},
		{"Sprint(struct)", fmt.Sprint(h), "{x <secret> <secret>}"},
		{"%+v of struct", fmt.Sprintf("%+v", h), "{Name:x Token:<secret> Ptr:<secret>}"},
		{"String()", s.String(), "<secret>"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.what, tc.got, tc.want)
		}
	}

	// %#v of a struct goes through GoString.
	if got := fmt.Sprintf("%#v", h); strings.Contains(got, secretValue) || !strings.Contains(got, "<secret>") {
		t.Errorf("%%#v of struct = %s", got)
	}
	// Through an unexported field fmt cannot call Format or String; the value
	// must still not print.
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		if got := fmt.Sprintf(verb, hidden{name: "x", token: s}); strings.Contains(got, secretValue) || strings.Contains(got, fmt.Sprintf("%x", secretValue)) {
			t.Errorf("%s of a struct with an unexported Secret field leaks: %s", verb, got)
		}
	}

	j, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"Name":"x","Token":"\u003csecret\u003e","Ptr":"\u003csecret\u003e"}`; string(j) != want {
		t.Errorf("json = %s, want %s", j, want)
	}
	y, err := yaml.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if want := "name: x\ntoken: <secret>\nptr: <secret>\n"; string(y) != want {
		t.Errorf("yaml = %q, want %q", y, want)
	}
	y, err = yaml.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if string(y) != "<secret>\n" {
		t.Errorf("yaml of a bare secret = %q", y)
	}

	// The zero Secret prints as empty, not as "<secret>": nothing is hidden.
	var zero Secret
	if zero.IsSet() || fmt.Sprint(zero) != "" || zero.Reveal() != "" {
		t.Errorf("zero Secret: IsSet=%v Sprint=%q", zero.IsSet(), fmt.Sprint(zero))
	}
	// Copies share the value.
	c := s
	if c.Reveal() != secretValue || NewSecret("").IsSet() {
		t.Error("a copy lost the value, or an empty secret is set")
	}
}

// A loaded Endpoint, Pair, Hook and the whole Config never print a password
// under any verb, nor in JSON.
func TestConfigPrintsNoSecrets(t *testing.T) {
	setTestEnv(t)
	cfg := mustLoad(t, "testdata/good/full.yaml")
	secrets := secretFixtures(t)
	ep := cfg.Pairs[0].Leader
	values := map[string]any{
		"Endpoint": ep, "*Endpoint": &ep, "Pair": cfg.Pairs[0], "Hook": cfg.Hooks[0],
		"Hooks": cfg.Hooks, "API": cfg.API, "Aiven": *cfg.Pairs[0].Aiven, "Config": *cfg, "*Config": cfg,
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			out := fmt.Sprintf(verb, v)
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("%s printed with %s contains secret %q", name, verb, s)
				}
			}
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%s): %v", name, err)
		}
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s as JSON contains secret %q", name, s)
			}
		}
	}
	if out := fmt.Sprintf("%+v", ep); !strings.Contains(out, "Password:<secret>") {
		t.Errorf("Endpoint %%+v = %s, want Password:<secret>", out)
	}
}

package config

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// validator applies defaults and cross-field rules, resolves secrets, and
// collects every problem with its YAML path and line.
type validator struct {
	errs  Errors
	lines map[string]int
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// line returns the line of path, or of its nearest ancestor that was written.
func (v *validator) line(path string) int {
	for p := path; p != ""; {
		if l, ok := v.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return v.lines[""]
}

func (v *validator) fail(path, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Path: path, Line: v.line(path), Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) config(c *Config) {
	if c.ListenAddress == "" {
		c.ListenAddress = DefaultListenAddress
	}
	if _, port, err := net.SplitHostPort(c.ListenAddress); err != nil || port == "" {
		v.fail("listen_address", "must be host:port or :port, not %q", c.ListenAddress)
	}
	if c.ExternalURL != "" {
		if u, err := url.Parse(c.ExternalURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			v.fail("external_url", "must be an http(s) URL without credentials, such as https://drwatch.example.com")
		}
		c.ExternalURL = strings.TrimRight(c.ExternalURL, "/")
	}
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if c.API.TokenFile != "" {
		tok, err := ReadSecretFile(c.API.TokenFile)
		switch {
		case err != nil:
			v.fail("api.token_file", "%v", err)
		case len(tok.Reveal()) < 16:
			v.fail("api.token_file", "token is too short: use at least 16 characters")
		default:
			c.API.Token = tok
		}
	}

	// Policies first: pairs refer to them.
	if c.Policies == nil {
		c.Policies = map[string]*Policy{}
	}
	for name, p := range c.Policies {
		path := "policies." + name
		if p == nil {
			p = &Policy{}
			c.Policies[name] = p
		}
		p.Name = name
		if !nameRE.MatchString(name) {
			v.fail(path, "policy name must be lower-case letters, digits, '-' or '_'")
		}
		written := *p
		fillPolicyDefaults(p)
		v.policy(p, &written, path)
	}
	if _, ok := c.Policies["default"]; !ok {
		c.Policies["default"] = DefaultPolicy()
	}

	if len(c.Pairs) == 0 {
		v.fail("pairs", "at least one pair is required")
	}
	names := map[string]string{}
	for i := range c.Pairs {
		v.pair(c, &c.Pairs[i], fmt.Sprintf("pairs[%d]", i), names)
	}

	hookNames := map[string]string{}
	for i := range c.Hooks {
		v.hook(&c.Hooks[i], fmt.Sprintf("hooks[%d]", i), hookNames)
	}
	drillNames := map[string]string{}
	for i := range c.Drills {
		v.drill(c, &c.Drills[i], fmt.Sprintf("drills[%d]", i), drillNames)
	}
	v.ha(&c.HA)
}

func (v *validator) unique(kind, name, path string, seen map[string]string) {
	if name == "" {
		v.fail(path+".name", "%s name is required", kind)
		return
	}
	if !nameRE.MatchString(name) {
		v.fail(path+".name", "%s name %q must be lower-case letters, digits, '-' or '_' (it is used in URLs and metric labels)", kind, name)
	}
	if prev, dup := seen[name]; dup {
		v.fail(path+".name", "duplicate %s name %q (first at %s)", kind, name, prev)
	}
	seen[name] = path
}

func (v *validator) pair(c *Config, p *Pair, path string, names map[string]string) {
	v.unique("pair", p.Name, path, names)
	v.endpoint(&p.Leader, path+".leader", false)
	v.endpoint(&p.Follower, path+".follower", true)
	if len(p.Indices) == 0 {
		p.Indices = []string{"*"}
	}
	for i, pat := range p.Indices {
		if msg := checkIndexPattern(pat); msg != "" {
			v.fail(fmt.Sprintf("%s.indices[%d]", path, i), "%s", msg)
		}
	}
	if p.Policy == "" {
		p.Policy = "default"
	}
	if pol, ok := c.Policies[p.Policy]; ok {
		p.Resolved = pol
	} else {
		v.fail(path+".policy", "unknown policy %q (defined: %s)", p.Policy, strings.Join(sortedKeys(c.Policies), ", "))
	}
	if p.Aiven != nil {
		v.aiven(p.Aiven, path+".aiven")
	}
}

func (v *validator) endpoint(e *Endpoint, path string, follower bool) {
	raw := e.URLs
	switch {
	case e.URL != "" && len(e.URLs) > 0:
		v.fail(path+".urls", "set url or urls, not both")
	case e.URL != "":
		raw = []string{e.URL}
	case len(e.URLs) == 0:
		v.fail(path+".url", "is required")
	}
	for i, s := range raw {
		p := path + ".url"
		if len(e.URLs) > 0 {
			p = fmt.Sprintf("%s.urls[%d]", path, i)
		}
		u, err := url.Parse(s)
		switch {
		case !strings.Contains(s, "://"):
			v.fail(p, "must start with https:// or http://")
		case err != nil:
			v.fail(p, "not a valid URL")
		case u.Scheme != "http" && u.Scheme != "https":
			v.fail(p, "scheme must be http or https, not %q", u.Scheme)
		case u.Host == "":
			v.fail(p, "has no host")
		case u.User != nil:
			v.fail(p, "must not contain credentials; use username with password_file or password_env")
		case u.RawQuery != "" || u.Fragment != "":
			v.fail(p, "must not have a query or fragment")
		default:
			e.Addresses = append(e.Addresses, u)
		}
	}
	e.Password = v.secret(path, secretKeys{"password_file", e.PasswordFile, "password_env", e.PasswordEnv}, "")
	if e.Username == "" && (e.PasswordFile != "" || e.PasswordEnv != "") {
		v.fail(path+".username", "is required when a password is set")
	}
	if e.Username != "" && e.PasswordFile == "" && e.PasswordEnv == "" {
		v.fail(path+".username", "has no password: set password_file or password_env")
	}
	if e.CAFile != "" {
		b, err := readFileLimited(e.CAFile, maxCAFileSize)
		switch {
		case err != nil:
			v.fail(path+".ca_file", "cannot read %q: %v", e.CAFile, err)
		case !x509.NewCertPool().AppendCertsFromPEM(b):
			v.fail(path+".ca_file", "%q holds no PEM certificate", e.CAFile)
		default:
			e.CACert = b
		}
	}
	if follower && e.LeaderAlias == "" {
		v.fail(path+".leader_alias", "is required: the follower's remote-cluster alias for the leader (see GET _remote/info on the follower)")
	}
	if !follower && e.LeaderAlias != "" {
		v.fail(path+".leader_alias", "belongs on the follower, not the leader")
	}
	if r := e.UseRoles; r != nil {
		switch {
		case !follower:
			v.fail(path+".use_roles", "belongs on the follower, not the leader")
		case r.LeaderClusterRole == "" || r.FollowerClusterRole == "":
			v.fail(path+".use_roles", "needs both leader_cluster_role and follower_cluster_role")
		}
	}
}

func (v *validator) aiven(a *Aiven, path string) {
	for _, f := range []struct{ key, val string }{
		{"project", a.Project}, {"leader_service", a.LeaderService}, {"follower_service", a.FollowerService},
	} {
		if f.val == "" {
			v.fail(path+"."+f.key, "is required")
		}
	}
	if a.LeaderService != "" && a.LeaderService == a.FollowerService {
		v.fail(path+".follower_service", "must differ from leader_service")
	}
	a.Token = v.secret(path, secretKeys{"token_file", a.TokenFile, "token_env", a.TokenEnv}, "is required (or token_env): the Aiven API token")
	if _, written := v.lines[path+".probe_interval"]; !written {
		a.ProbeInterval = DefaultAivenProbeInterval
	} else if a.ProbeInterval <= 0 {
		v.fail(path+".probe_interval", "must be a positive duration (how often drwatch reads the services through the Aiven API; leave it out for %s), not %s",
			shortDuration(DefaultAivenProbeInterval), shortDuration(a.ProbeInterval))
	}
	if a.APIURL != "" {
		if u, err := url.Parse(a.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.fail(path+".api_url", "must be an http(s) URL, not %s", describe(&yaml.Node{Kind: yaml.ScalarNode, Value: a.APIURL}))
		}
	}
}

// zeroWritten fails each key of the policy written as zero where zero is
// no meaningful value: the defaults fill zero values, so a written 0 would
// silently stand for the default (min_failed_probes: 0 for 3).
func (v *validator) zeroWritten(written *Policy, path string) {
	for _, k := range []struct {
		key  string
		zero bool
		want string
	}{
		{"probe_interval", written.ProbeInterval == 0, "must be at least 100ms"},
		{"probe_timeout", written.ProbeTimeout == 0, "must be a positive duration shorter than probe_interval"},
		{"leader_down_after", written.LeaderDownAfter == 0, "must be at least probe_interval"},
		{"min_failed_probes", written.MinFailedProbes == 0, "must be at least 1"},
		{"max_observation_age", written.MaxObservationAge == 0, "must be at least probe_interval"},
		{"approval_timeout", written.ApprovalTimeout == 0, "must be a positive duration"},
		{"promote_concurrency", written.PromoteConcurrency == 0, "must be between 1 and 64"},
	} {
		if _, ok := v.lines[path+"."+k.key]; ok && k.zero {
			v.fail(path+"."+k.key, "%s, not 0 (0 would silently mean the default: leave the key out for that)", k.want)
		}
	}
}

// policy checks p, whose defaults are filled; written is p as the file had
// it, so that a message can say when a value at fault is a default.
func (v *validator) policy(p, written *Policy, path string) {
	v.zeroWritten(written, path)
	modes := []string{ModeAuto, ModeSemiAuto, ModeManual, ModeDryRun}
	if !slices.Contains(modes, p.Mode) {
		v.fail(path+".mode", "must be one of %s, not %q", strings.Join(modes, ", "), p.Mode)
	}
	if p.ProbeInterval.D() < 100*time.Millisecond {
		v.fail(path+".probe_interval", "must be at least 100ms")
	}
	// The bounds below compare with probe_interval. When the value at fault
	// was not written, say it is a default: the operator set only
	// probe_interval and needs to know what else to set.
	interval := shortDuration(p.ProbeInterval)
	if written.ProbeInterval == 0 {
		interval += ", the default"
	}
	if p.ProbeTimeout.D() >= p.ProbeInterval.D() {
		if written.ProbeTimeout == 0 {
			v.fail(path+".probe_timeout", "defaults to %s, which is not shorter than probe_interval (%s): set probe_timeout", shortDuration(p.ProbeTimeout), interval)
		} else {
			v.fail(path+".probe_timeout", "must be shorter than probe_interval (%s)", interval)
		}
	}
	if p.LeaderDownAfter.D() < p.ProbeInterval.D() {
		if written.LeaderDownAfter == 0 {
			v.fail(path+".leader_down_after", "defaults to %s, which is shorter than probe_interval (%s): set leader_down_after", shortDuration(p.LeaderDownAfter), interval)
		} else {
			v.fail(path+".leader_down_after", "must be at least probe_interval (%s)", interval)
		}
	}
	if p.MinFailedProbes < 1 {
		v.fail(path+".min_failed_probes", "must be at least 1")
	}
	if *p.MaxLagOperations < 0 {
		v.fail(path+".max_lag_operations", "must not be negative")
	}
	if p.MaxObservationAge.D() < p.ProbeInterval.D() {
		if written.MaxObservationAge == 0 {
			v.fail(path+".max_observation_age", "defaults to %s, which is shorter than probe_interval (%s): set max_observation_age", shortDuration(p.MaxObservationAge), interval)
		} else {
			v.fail(path+".max_observation_age", "must be at least probe_interval (%s): a fresher reading can never exist", interval)
		}
	}
	if p.OnApprovalTimeout != "hold" && p.OnApprovalTimeout != "promote" {
		v.fail(path+".on_approval_timeout", "must be hold or promote, not %q", p.OnApprovalTimeout)
	}
	if p.PromoteConcurrency < 1 || p.PromoteConcurrency > 64 {
		v.fail(path+".promote_concurrency", "must be between 1 and 64")
	}
	for i, w := range p.MaintenanceWindows {
		wp := fmt.Sprintf("%s.maintenance_windows[%d]", path, i)
		if w.Schedule.Sched == nil {
			v.fail(wp+".schedule", "is required")
		}
		if w.Duration <= 0 {
			v.fail(wp+".duration", "is required and must be positive")
		}
	}
}

func (v *validator) hook(h *Hook, path string, names map[string]string) {
	v.unique("hook", h.Name, path, names)
	if !slices.Contains(hookTypes, h.Type) {
		v.fail(path+".type", "must be one of %s, not %q", strings.Join(hookTypes, ", "), h.Type)
		return
	}
	if len(h.Events) == 0 {
		v.fail(path+".events", "list at least one event")
	}
	for i, e := range h.Events {
		if !slices.Contains(Events, e) {
			if s := closest(e, Events); s != "" {
				v.fail(fmt.Sprintf("%s.events[%d]", path, i), "unknown event %q (did you mean %q?)", e, s)
			} else {
				v.fail(fmt.Sprintf("%s.events[%d]", path, i), "unknown event %q (events: %s)", e, strings.Join(Events, ", "))
			}
		}
	}
	if _, ok := v.lines[path+".timeout"]; ok && h.Timeout == 0 {
		v.fail(path+".timeout", "must be a positive duration, not 0 (0 would silently mean the default: leave the key out for that)")
	}
	if h.Timeout == 0 {
		h.Timeout = Duration(DefaultHookTimeout)
	}
	if h.Timeout < 0 || h.Timeout.D() > MaxHookTimeout {
		v.fail(path+".timeout", "must be positive and at most %s", shortDuration(Duration(MaxHookTimeout)))
	}
	if h.Veto {
		if h.Type != "exec" {
			v.fail(path+".veto", "only an exec hook can veto a promotion")
		} else if !slices.Contains(h.Events, "promotion_started") {
			v.fail(path+".veto", "a veto hook vets promotion_started: list it in events")
		}
	}
	required := "is required for " + hookKind(h.Type) + " hook (or %s)"
	secret := func(fileKey, file, envKey, env string) {
		h.Secret = v.secret(path, secretKeys{fileKey, file, envKey, env}, fmt.Sprintf(required, envKey))
	}
	v.hookKeys(h, path)
	if h.URL != "" {
		if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.fail(path+".url", "must be an http(s) URL")
		} else if u.User != nil {
			v.fail(path+".url", "must not contain credentials")
		}
	}
	switch h.Type {
	case "pagerduty":
		secret("routing_key_file", h.RoutingKeyFile, "routing_key_env", h.RoutingKeyEnv)
	case "opsgenie":
		secret("api_key_file", h.APIKeyFile, "api_key_env", h.APIKeyEnv)
		if h.Region != "" && h.Region != "us" && h.Region != "eu" {
			v.fail(path+".region", "must be us or eu, not %q", h.Region)
		}
		if h.Region != "" && h.URL != "" {
			v.fail(path+".region", "set region or url, not both")
		}
	case "slack":
		// A Slack incoming-webhook URL is itself the credential.
		if h.URL != "" {
			v.fail(path+".url", "a Slack webhook URL is a secret: use url_file or url_env")
		}
		secret("url_file", h.URLFile, "url_env", h.URLEnv)
	case "webhook", "alertmanager":
		if h.URL == "" {
			v.fail(path+".url", "is required for %s hook", hookKind(h.Type))
		}
		if h.Type == "webhook" {
			h.Secret = v.secret(path, secretKeys{"secret_file", h.SecretFile, "secret_env", h.SecretEnv}, "")
		}
	case "exec":
		if len(h.Command) == 0 || h.Command[0] == "" {
			v.fail(path+".command", "is required for an exec hook: [program, args...]")
		}
	}
}

// hookKeys reports keys that h's type does not use: they would be ignored,
// and a credential ignored is a page never sent.
func (v *validator) hookKeys(h *Hook, path string) {
	for _, f := range []struct {
		key   string
		set   bool
		types []string
	}{
		{"routing_key_file", h.RoutingKeyFile != "", []string{"pagerduty"}},
		{"routing_key_env", h.RoutingKeyEnv != "", []string{"pagerduty"}},
		{"api_key_file", h.APIKeyFile != "", []string{"opsgenie"}},
		{"api_key_env", h.APIKeyEnv != "", []string{"opsgenie"}},
		{"url_file", h.URLFile != "", []string{"slack"}},
		{"url_env", h.URLEnv != "", []string{"slack"}},
		{"secret_file", h.SecretFile != "", []string{"webhook"}},
		{"secret_env", h.SecretEnv != "", []string{"webhook"}},
		{"region", h.Region != "", []string{"opsgenie"}},
		{"headers", len(h.Headers) > 0, []string{"webhook", "alertmanager"}},
		{"command", len(h.Command) > 0, []string{"exec"}},
		{"url", h.URL != "", []string{"pagerduty", "opsgenie", "slack", "alertmanager", "webhook"}},
	} {
		if f.set && !slices.Contains(f.types, h.Type) {
			v.fail(path+"."+f.key, "is not used by %s hook (only by %s)", hookKind(h.Type), strings.Join(f.types, ", "))
		}
	}
}

// shortDuration writes d as an operator would: "2m", not "2m0s".
func shortDuration(d Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// hookKind returns "a pagerduty", "an exec".
func hookKind(typ string) string {
	if typ != "" && strings.ContainsRune("aeiou", rune(typ[0])) {
		return "an " + typ
	}
	return "a " + typ
}

func (v *validator) drill(c *Config, d *Drill, path string, names map[string]string) {
	v.unique("drill", d.Name, path, names)
	if d.Pair == "" {
		v.fail(path+".pair", "is required")
	} else if _, ok := c.Pair(d.Pair); !ok {
		names := make([]string, 0, len(c.Pairs))
		for _, p := range c.Pairs {
			if p.Name != "" {
				names = append(names, p.Name)
			}
		}
		v.fail(path+".pair", "unknown pair %q (defined: %s)", d.Pair, strings.Join(names, ", "))
	}
	if d.Schedule.Sched == nil {
		v.fail(path+".schedule", "is required")
	}
	switch d.Type {
	case "":
		d.Type = "readiness"
	case "readiness":
	case "failover":
		if p, ok := c.Pair(d.Pair); ok && !p.AllowDestructiveDrills {
			v.fail(path+".type", "a failover drill promotes pair %s and restores it: the pair must say allow_destructive_drills: true (a staging pair)", d.Pair)
		}
	default:
		v.fail(path+".type", "must be readiness or failover, not %q", d.Type)
	}
}

// checkIndexPattern returns why pat is not a usable index pattern, or "".
func checkIndexPattern(pat string) string {
	p := strings.TrimPrefix(pat, "-")
	switch {
	case p == "":
		return "empty index pattern"
	case strings.ContainsAny(p, ` ,"\/|<>?#`):
		return fmt.Sprintf("index pattern %q contains a character OpenSearch forbids in index names", pat)
	case strings.ToLower(p) != p:
		return fmt.Sprintf("index pattern %q must be lower case (OpenSearch index names are)", pat)
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// secretKeys are the two keys that may name a secret: a file, or an
// environment variable.
type secretKeys struct {
	fileKey, file, envKey, env string
}

// secret reads the secret k names - from its file or its environment
// variable, never both - and reports a problem at the key at fault.
// missing is what to say when neither is set ("": the secret is optional).
// No error carries the secret.
func (v *validator) secret(path string, k secretKeys, missing string) Secret {
	var (
		s   Secret
		err error
		at  string
	)
	switch {
	case k.file != "" && k.env != "":
		v.fail(path+"."+k.envKey, "set %s or %s, not both", k.fileKey, k.envKey)
		return Secret{}
	case k.file != "":
		s, err = ReadSecretFile(k.file)
		at = k.fileKey
	case k.env != "":
		s, err = readSecretEnv(k.env)
		at = k.envKey
	case missing != "":
		v.fail(path+"."+k.fileKey, "%s", missing)
		return Secret{}
	default:
		return Secret{}
	}
	if err != nil {
		v.fail(path+"."+at, "%v", err)
	}
	return s
}

package config

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
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
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if c.API.TokenFile != "" {
		tok, err := readSecretFile(c.API.TokenFile)
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
		fillPolicyDefaults(p)
		v.policy(p, path)
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
	switch {
	case e.PasswordFile != "" && e.PasswordEnv != "":
		v.fail(path+".password_env", "set password_file or password_env, not both")
	case e.PasswordFile != "":
		s, err := readSecretFile(e.PasswordFile)
		if err != nil {
			v.fail(path+".password_file", "%v", err)
		}
		e.Password = s
	case e.PasswordEnv != "":
		s, err := readSecretEnv(e.PasswordEnv)
		if err != nil {
			v.fail(path+".password_env", "%v", err)
		}
		e.Password = s
	}
	if e.Username == "" && (e.PasswordFile != "" || e.PasswordEnv != "") {
		v.fail(path+".username", "is required when a password is set")
	}
	if e.Username != "" && e.PasswordFile == "" && e.PasswordEnv == "" {
		v.fail(path+".username", "has no password: set password_file or password_env")
	}
	if e.CAFile != "" {
		b, err := os.ReadFile(e.CAFile) // #nosec G304 -- operator-supplied path
		switch {
		case err != nil:
			v.fail(path+".ca_file", "cannot read %q: %v", e.CAFile, unwrapPathError(err))
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
	switch {
	case a.TokenEnv != "" && a.TokenFile != "":
		v.fail(path+".token_file", "set token_env or token_file, not both")
	case a.TokenFile != "":
		s, err := readSecretFile(a.TokenFile)
		if err != nil {
			v.fail(path+".token_file", "%v", err)
		}
		a.Token = s
	case a.TokenEnv != "":
		s, err := readSecretEnv(a.TokenEnv)
		if err != nil {
			v.fail(path+".token_env", "%v", err)
		}
		a.Token = s
	default:
		v.fail(path+".token_env", "is required (or token_file): the Aiven API token")
	}
	if a.APIURL != "" {
		if u, err := url.Parse(a.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.fail(path+".api_url", "must be an http(s) URL, not %q", a.APIURL)
		}
	}
}

func (v *validator) policy(p *Policy, path string) {
	modes := []string{ModeAuto, ModeSemiAuto, ModeManual, ModeDryRun}
	if !slices.Contains(modes, p.Mode) {
		v.fail(path+".mode", "must be one of %s, not %q", strings.Join(modes, ", "), p.Mode)
	}
	if p.ProbeInterval.D() < 100*time.Millisecond {
		v.fail(path+".probe_interval", "must be at least 100ms")
	}
	if p.ProbeTimeout.D() >= p.ProbeInterval.D() {
		v.fail(path+".probe_timeout", "must be shorter than probe_interval (%s)", p.ProbeInterval)
	}
	if p.LeaderDownAfter.D() < p.ProbeInterval.D() {
		v.fail(path+".leader_down_after", "must be at least probe_interval (%s)", p.ProbeInterval)
	}
	if p.MinFailedProbes < 1 {
		v.fail(path+".min_failed_probes", "must be at least 1")
	}
	if *p.MaxLagOperations < 0 {
		v.fail(path+".max_lag_operations", "must not be negative")
	}
	if p.MaxObservationAge.D() < p.ProbeInterval.D() {
		v.fail(path+".max_observation_age", "must be at least probe_interval (%s): a fresher reading can never exist", p.ProbeInterval)
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
			v.fail(fmt.Sprintf("%s.events[%d]", path, i), "unknown event %q", e)
		}
	}
	if h.Timeout == 0 {
		h.Timeout = Duration(DefaultHookTimeout)
	}
	secret := func(fileKey, file, envKey, env string, required bool) {
		switch {
		case file != "" && env != "":
			v.fail(path+"."+envKey, "set %s or %s, not both", fileKey, envKey)
		case file != "":
			s, err := readSecretFile(file)
			if err != nil {
				v.fail(path+"."+fileKey, "%v", err)
			}
			h.Secret = s
		case env != "":
			s, err := readSecretEnv(env)
			if err != nil {
				v.fail(path+"."+envKey, "%v", err)
			}
			h.Secret = s
		case required:
			v.fail(path+"."+fileKey, "is required for a %s hook (or %s)", h.Type, envKey)
		}
	}
	switch h.Type {
	case "pagerduty":
		secret("routing_key_file", h.RoutingKeyFile, "routing_key_env", h.RoutingKeyEnv, true)
	case "opsgenie":
		secret("api_key_file", h.APIKeyFile, "api_key_env", h.APIKeyEnv, true)
	case "slack":
		// A Slack incoming-webhook URL is itself the credential.
		if h.URL != "" {
			v.fail(path+".url", "a Slack webhook URL is a secret: use url_file or url_env")
		}
		secret("url_file", h.URLFile, "url_env", h.URLEnv, true)
	case "webhook":
		if h.URL == "" {
			v.fail(path+".url", "is required for a webhook hook")
		} else if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.fail(path+".url", "must be an http(s) URL")
		} else if u.User != nil {
			v.fail(path+".url", "must not contain credentials")
		}
	case "exec":
		if len(h.Command) == 0 || h.Command[0] == "" {
			v.fail(path+".command", "is required for an exec hook: [program, args...]")
		}
	}
}

func (v *validator) drill(c *Config, d *Drill, path string, names map[string]string) {
	v.unique("drill", d.Name, path, names)
	if d.Pair == "" {
		v.fail(path+".pair", "is required")
	} else if _, ok := c.Pair(d.Pair); !ok {
		v.fail(path+".pair", "unknown pair %q", d.Pair)
	}
	if d.Schedule.Sched == nil {
		v.fail(path+".schedule", "is required")
	}
	switch d.Type {
	case "":
		d.Type = "readiness"
	case "readiness", "failover":
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

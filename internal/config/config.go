// Package config defines drwatch's YAML configuration: its schema, defaults,
// strict decoding and validation. Every error names the YAML path and line of
// the value at fault, so an operator can fix a file at 3 a.m. without guessing.
//
// Loading reads the config file and the secret files it names; it does no
// other I/O. Secrets are held as Secret values that never print.
package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Modes of a policy.
const (
	ModeAuto     = "auto"
	ModeSemiAuto = "semi-auto"
	ModeManual   = "manual"
	ModeDryRun   = "dry-run"
)

// Config is the whole configuration file.
type Config struct {
	ListenAddress string `yaml:"listen_address"`
	// ExternalURL is how people reach this daemon (its status page and
	// API): pages link to it and print commands with it. Default
	// http://<host name>:<listen port>.
	ExternalURL string             `yaml:"external_url"`
	StateDir    string             `yaml:"state_dir"`
	API         API                `yaml:"api"`
	Pairs       []Pair             `yaml:"pairs"`
	Policies    map[string]*Policy `yaml:"policies"`
	Hooks       []Hook             `yaml:"hooks"`
	Drills      []Drill            `yaml:"drills"`
	HA          HA                 `yaml:"ha"`

	// Path is the file the config was loaded from.
	Path string `yaml:"-"`
}

// API configures the mutating HTTP API.
type API struct {
	TokenFile string `yaml:"token_file"`

	// Token is read from TokenFile at load time. Unset: the mutating API
	// answers 403 and says why.
	Token Secret `yaml:"-"`
}

// Pair is one leader/follower pair.
type Pair struct {
	Name     string   `yaml:"name"`
	Leader   Endpoint `yaml:"leader"`
	Follower Endpoint `yaml:"follower"`
	Indices  []string `yaml:"indices"`
	Aiven    *Aiven   `yaml:"aiven"`
	Policy   string   `yaml:"policy"`
	// AllowDestructiveDrills lets failover drills promote the pair and
	// restore it (a staging pair; off by default).
	AllowDestructiveDrills bool `yaml:"allow_destructive_drills"`

	// Resolved is the policy the pair uses (set at load time).
	Resolved *Policy `yaml:"-"`
}

// Endpoint is how drwatch reaches one cluster.
type Endpoint struct {
	URL          string   `yaml:"url"`
	URLs         []string `yaml:"urls"`
	Username     string   `yaml:"username"`
	PasswordFile string   `yaml:"password_file"`
	PasswordEnv  string   `yaml:"password_env"`
	CAFile       string   `yaml:"ca_file"`
	// InsecureSkipVerify turns TLS verification off. Off by default; drwatch
	// logs a warning at start when it is set.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// LeaderAlias is the follower's remote-cluster alias for the leader
	// (follower only).
	LeaderAlias string `yaml:"leader_alias"`
	// UseRoles are the roles replication runs as under the security
	// plugin (follower only): what a failover drill's restore sends as
	// use_roles when it starts replication again. drwatch's user must be
	// mapped to both (docs/security.md).
	UseRoles *UseRoles `yaml:"use_roles"`

	// Resolved at load time.
	Addresses []*url.URL `yaml:"-"`
	Password  Secret     `yaml:"-"`
	CACert    []byte     `yaml:"-"`
}

// UseRoles is the use_roles of the replication plugin's _start and
// autofollow bodies.
type UseRoles struct {
	LeaderClusterRole   string `yaml:"leader_cluster_role" json:"leader_cluster_role"`
	FollowerClusterRole string `yaml:"follower_cluster_role" json:"follower_cluster_role"`
}

// BaseURL is the endpoint's first address without credentials or a
// trailing slash (what commands printed for a human name).
func (e Endpoint) BaseURL() string {
	if len(e.Addresses) > 0 {
		u := *e.Addresses[0]
		u.User = nil
		return strings.TrimSuffix(u.String(), "/")
	}
	return strings.TrimSuffix(e.URL, "/")
}

// Aiven configures promotion through the Aiven API.
type Aiven struct {
	Project         string `yaml:"project"`
	LeaderService   string `yaml:"leader_service"`
	FollowerService string `yaml:"follower_service"`
	TokenEnv        string `yaml:"token_env"`
	TokenFile       string `yaml:"token_file"`
	APIURL          string `yaml:"api_url"`
	// ProbeInterval is how often the probe reads the services through
	// the Aiven API (DefaultAivenProbeInterval when left out).
	ProbeInterval Duration `yaml:"probe_interval"`

	Token Secret `yaml:"-"`
}

// DefaultAivenProbeInterval is pairs[].aiven.probe_interval's default: the
// Aiven API is a control plane, read every 15 s rather than every cycle.
const DefaultAivenProbeInterval = Duration(15 * time.Second)

// Policy is a named set of decision rules.
type Policy struct {
	Mode                   string              `yaml:"mode"`
	ProbeInterval          Duration            `yaml:"probe_interval"`
	ProbeTimeout           Duration            `yaml:"probe_timeout"`
	LeaderDownAfter        Duration            `yaml:"leader_down_after"`
	MinFailedProbes        int                 `yaml:"min_failed_probes"`
	RequireFollowerWitness *bool               `yaml:"require_follower_witness"`
	MaxLagOperations       *int64              `yaml:"max_lag_operations"`
	MaxObservationAge      Duration            `yaml:"max_observation_age"`
	ApprovalTimeout        Duration            `yaml:"approval_timeout"`
	OnApprovalTimeout      string              `yaml:"on_approval_timeout"`
	Cooldown               *Duration           `yaml:"cooldown"`
	FenceLeader            *bool               `yaml:"fence_leader"`
	PromoteConcurrency     int                 `yaml:"promote_concurrency"`
	MaintenanceWindows     []MaintenanceWindow `yaml:"maintenance_windows"`

	// Name is the key under policies.
	Name string `yaml:"-"`
}

// MaintenanceWindow is a recurring window in which automatic actions hold.
type MaintenanceWindow struct {
	Schedule Schedule `yaml:"schedule"`
	Duration Duration `yaml:"duration"`
}

// Hook delivers events to a paging or chat system, a webhook or a command.
type Hook struct {
	Name           string            `yaml:"name"`
	Type           string            `yaml:"type"`
	Events         []string          `yaml:"events"`
	URL            string            `yaml:"url"`
	URLFile        string            `yaml:"url_file"`
	URLEnv         string            `yaml:"url_env"`
	RoutingKeyFile string            `yaml:"routing_key_file"`
	RoutingKeyEnv  string            `yaml:"routing_key_env"`
	APIKeyFile     string            `yaml:"api_key_file"`
	APIKeyEnv      string            `yaml:"api_key_env"`
	SecretFile     string            `yaml:"secret_file"`
	SecretEnv      string            `yaml:"secret_env"`
	Region         string            `yaml:"region"`
	Headers        map[string]string `yaml:"headers"`
	Command        []string          `yaml:"command"`
	Timeout        Duration          `yaml:"timeout"`
	// Veto makes an exec hook subscribed to promotion_started a gate: a
	// promotion drwatch starts on its own runs only when it exits 0.
	Veto bool `yaml:"veto"`

	// Secret is the hook's credential: the routing key, API key, a URL
	// that embeds a token (Slack), or a webhook's signing key, resolved at
	// load time.
	Secret Secret `yaml:"-"`
}

// Drill is a scheduled DR rehearsal.
type Drill struct {
	Name     string   `yaml:"name"`
	Pair     string   `yaml:"pair"`
	Schedule Schedule `yaml:"schedule"`
	Type     string   `yaml:"type"`
}

// Hook types.
var hookTypes = []string{"pagerduty", "opsgenie", "slack", "alertmanager", "webhook", "exec"}

// Events are the hook events (docs/events.md): names are never renamed.
var Events = []string{
	"leader_suspect", "leader_down", "leader_recovered", "watcher_isolated",
	"replication_degraded", "replication_recovered", "leader_degraded", "leader_writable", "retention_lease_expiring", "retention_lease_renewed", "approval_required",
	"approval_granted", "approval_denied", "approval_expired",
	"promotion_started", "promotion_vetoed", "promotion_succeeded", "promotion_failed",
	"old_leader_returned", "old_leader_fenced", "journal_unwritable", "journal_recovered",
	"drill_succeeded", "drill_failed",
}

// Duration is a time.Duration written in Go syntax ("30s", "1h30m").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// Schedule is a cron expression (robfig/cron standard syntax, with
// descriptors such as @daily), parsed at load time.
type Schedule struct {
	Spec  string
	Sched cron.Schedule
}

func (s Schedule) String() string { return s.Spec }

// DefaultPolicy returns the built-in policy: the defaults that
// docs/configuration.md lists (Policies), with the safest mode (semi-auto:
// a human approves every promotion).
func DefaultPolicy() *Policy {
	t, f := true, true
	lag := int64(1000)
	cd := Duration(time.Hour)
	return &Policy{
		Name:                   "default",
		Mode:                   ModeSemiAuto,
		ProbeInterval:          Duration(5 * time.Second),
		ProbeTimeout:           Duration(3 * time.Second),
		LeaderDownAfter:        Duration(30 * time.Second),
		MinFailedProbes:        3,
		RequireFollowerWitness: &t,
		MaxLagOperations:       &lag,
		MaxObservationAge:      Duration(60 * time.Second),
		ApprovalTimeout:        Duration(15 * time.Minute),
		OnApprovalTimeout:      "hold",
		Cooldown:               &cd,
		FenceLeader:            &f,
		PromoteConcurrency:     8,
	}
}

// Defaults for top-level keys.
const (
	DefaultListenAddress = ":9464"
	DefaultStateDir      = "/var/lib/drwatch"
	DefaultHookTimeout   = 10 * time.Second
	// MaxHookTimeout bounds hooks[].timeout: a veto hook's timeout delays
	// a promotion by as much.
	MaxHookTimeout = 5 * time.Minute
)

// fillPolicyDefaults sets every unset field of p from the built-in policy.
func fillPolicyDefaults(p *Policy) {
	d := DefaultPolicy()
	if p.Mode == "" {
		p.Mode = d.Mode
	}
	if p.ProbeInterval == 0 {
		p.ProbeInterval = d.ProbeInterval
	}
	if p.ProbeTimeout == 0 {
		p.ProbeTimeout = d.ProbeTimeout
	}
	if p.LeaderDownAfter == 0 {
		p.LeaderDownAfter = d.LeaderDownAfter
	}
	if p.MinFailedProbes == 0 {
		p.MinFailedProbes = d.MinFailedProbes
	}
	if p.RequireFollowerWitness == nil {
		p.RequireFollowerWitness = d.RequireFollowerWitness
	}
	if p.MaxLagOperations == nil {
		p.MaxLagOperations = d.MaxLagOperations
	}
	if p.MaxObservationAge == 0 {
		p.MaxObservationAge = d.MaxObservationAge
	}
	if p.ApprovalTimeout == 0 {
		p.ApprovalTimeout = d.ApprovalTimeout
	}
	if p.OnApprovalTimeout == "" {
		p.OnApprovalTimeout = d.OnApprovalTimeout
	}
	if p.Cooldown == nil {
		p.Cooldown = d.Cooldown
	}
	if p.FenceLeader == nil {
		p.FenceLeader = d.FenceLeader
	}
	if p.PromoteConcurrency == 0 {
		p.PromoteConcurrency = d.PromoteConcurrency
	}
}

// Pair returns the pair with the given name.
func (c *Config) Pair(name string) (*Pair, bool) {
	for i := range c.Pairs {
		if c.Pairs[i].Name == name {
			return &c.Pairs[i], true
		}
	}
	return nil, false
}

// URL is how people reach this daemon: external_url, or
// http://<host name>:<listen port> when it is not set.
func (c *Config) URL() string {
	if c.ExternalURL != "" {
		return c.ExternalURL
	}
	host, port, _ := net.SplitHostPort(c.ListenAddress)
	if host == "" || host == "0.0.0.0" || host == "::" {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		} else {
			host = "localhost"
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}

// NotYetActive lists the parts of a valid config that this version of
// drwatch accepts but does not act on, so that an operator is never misled
// into relying on them.
func (c *Config) NotYetActive() []string {
	var out []string
	for i, d := range c.Drills {
		if p, ok := c.Pair(d.Pair); ok && p.Aiven != nil && d.Type == "failover" {
			out = append(out, fmt.Sprintf("drills[%d]: a failover drill of Aiven pair %s is not run by this version (restoring its replication needs a new Aiven integration): each run fails and says so; a readiness drill runs", i, p.Name))
		}
	}
	return out
}

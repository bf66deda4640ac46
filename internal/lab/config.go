// Package lab runs a real two-cluster OpenSearch lab on 127.0.0.1: a
// single-node leader and a single-node follower, the follower connected to
// the leader as a remote cluster, sample indices on the leader and, when the
// cross-cluster-replication plugin is available, replication of them. The
// end-to-end tests, the demo and cmd/drwatch-lab use it; it also injects the
// faults they need (a node killed, frozen, stopped, restarted; the remote
// connection moved through a proxy).
//
// It fetches the OpenSearch distribution with Maven, unzips it, installs the
// plugin, writes each node's opensearch.yml, and starts each node in a
// process group of its own (as an unprivileged user when running as root),
// so stopping a node signals its whole process tree. Every answer of the
// clusters is parsed as JSON. What a separate process (`drwatch-lab down`)
// needs to find the nodes is kept in $LAB_DIR/lab.json, which only this
// package reads and writes.
package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Node is one of the two lab nodes.
type Node string

// The lab's nodes.
const (
	Leader   Node = "leader"
	Follower Node = "follower"
)

// Nodes are both nodes, leader first.
var Nodes = []Node{Leader, Follower}

// ParseNode accepts "leader" or "follower".
func ParseNode(s string) (Node, error) {
	switch Node(s) {
	case Leader, Follower:
		return Node(s), nil
	}
	return "", fmt.Errorf("node must be 'leader' or 'follower' (got '%s')", s)
}

// Config is everything the lab can be told. FromEnv reads it from the
// environment variables lab users know (deploy/lab/README.md).
type Config struct {
	Repo              string // the drwatch checkout (for the default cache and ../shared)
	Dir               string // LAB_DIR: runtime dir, removed by Down
	Cache             string // LAB_CACHE: downloaded zips
	SharedCCRDir      string // SHARED_CCR_DIR: plugin zip + SHA256SUMS
	Version           string // LAB_VERSION or OPENSEARCH_VERSION (2.19.3; 3.4.0 needs Java 21+)
	CCRVersion        string // CCR_PLUGIN_VERSION
	LeaderHTTPPort    int
	LeaderTransport   int
	FollowerHTTPPort  int
	FollowerTransport int
	Alias             string // LEADER_ALIAS: the remote cluster alias on the follower
	ProxyAddress      string // LEADER_PROXY_ADDRESS: proxy-mode remote instead of seeds
	Timeout           time.Duration
	StopTimeout       time.Duration
	CCRTimeout        time.Duration
	Heap              string // LAB_HEAP: -Xms/-Xmx per node
	User              string // LAB_USER: node user when running as root
	PluginZip         string // DRWATCH_CCR_PLUGIN_ZIP
	Mvn               string // MVN
	RetryCCR          bool   // LAB_RETRY_CCR=1: ask Maven for the plugin again
	CI                bool   // CI=true: a lab without the plugin is a failure
	JavaHome          string // OPENSEARCH_JAVA_HOME or JAVA_HOME; empty: java on PATH
	Security          bool   // LAB_SECURITY=1: the security plugin, TLS, users and roles (security.go)

	// explicit names the saved keys that were set in the environment: a
	// conflict with the running lab's value is an error (see Open).
	explicit map[string]bool
}

// The keys a running lab remembers (lab.json) and later commands reuse.
const (
	keyVersion           = "OPENSEARCH_VERSION"
	keyLeaderHTTPPort    = "LEADER_HTTP_PORT"
	keyLeaderTransport   = "LEADER_TRANSPORT_PORT"
	keyFollowerHTTPPort  = "FOLLOWER_HTTP_PORT"
	keyFollowerTransport = "FOLLOWER_TRANSPORT_PORT"
	keyAlias             = "LEADER_ALIAS"
	keySecurity          = "LAB_SECURITY"
)

// FromEnv builds a Config from getenv (os.Getenv in practice) with the
// defaults of deploy/lab/README.md; repo is the drwatch checkout.
func FromEnv(repo string, getenv func(string) string) (Config, error) {
	c := Config{Repo: repo, explicit: map[string]bool{}}
	str := func(key, def string) string {
		if v := getenv(key); v != "" {
			c.explicit[key] = true
			return v
		}
		return def
	}
	var errs []error
	num := func(key string, def int) int {
		v := str(key, "")
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s must be a number (got '%s')", key, v))
		}
		return n
	}
	secs := func(key string, def int) time.Duration { return time.Duration(num(key, def)) * time.Second }

	c.Dir = strings.TrimRight(str("LAB_DIR", "/tmp/drwatch-lab"), "/")
	if c.Dir == "" {
		c.Dir = "/"
	}
	c.Cache = str("LAB_CACHE", filepath.Join(repo, ".cache", "lab"))
	c.SharedCCRDir = str("SHARED_CCR_DIR", filepath.Join(filepath.Dir(repo), "shared", "ccr-plugin"))
	c.Version = str(keyVersion, "2.19.3")
	if v := getenv("LAB_VERSION"); v != "" {
		if c.explicit[keyVersion] && v != c.Version {
			errs = append(errs, fmt.Errorf("LAB_VERSION=%s and OPENSEARCH_VERSION=%s differ: set one", v, c.Version))
		}
		c.Version, c.explicit[keyVersion] = v, true
	}
	c.CCRVersion = str("CCR_PLUGIN_VERSION", c.Version+".0")
	c.LeaderHTTPPort = num(keyLeaderHTTPPort, 19200)
	c.LeaderTransport = num(keyLeaderTransport, 19300)
	c.FollowerHTTPPort = num(keyFollowerHTTPPort, 19201)
	c.FollowerTransport = num(keyFollowerTransport, 19301)
	c.Alias = str(keyAlias, "leader")
	c.ProxyAddress = getenv("LEADER_PROXY_ADDRESS")
	c.Timeout = secs("LAB_TIMEOUT", 240)
	c.StopTimeout = secs("LAB_STOP_TIMEOUT", 20)
	c.CCRTimeout = secs("LAB_CCR_TIMEOUT", 180)
	c.Heap = str("LAB_HEAP", "512m")
	c.User = str("LAB_USER", "drwatch-lab")
	c.PluginZip = getenv("DRWATCH_CCR_PLUGIN_ZIP")
	c.Mvn = str("MVN", "mvn")
	c.RetryCCR = getenv("LAB_RETRY_CCR") == "1"
	switch sec := str(keySecurity, "0"); sec {
	case "0", "1":
		c.Security = sec == "1"
	default:
		errs = append(errs, fmt.Errorf("LAB_SECURITY must be 0 or 1 (got '%s')", sec))
	}
	c.CI = getenv("CI") == "true"
	c.JavaHome = getenv("OPENSEARCH_JAVA_HOME")
	if c.JavaHome == "" {
		c.JavaHome = getenv("JAVA_HOME")
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, c.Validate()
}

var (
	dirRE     = regexp.MustCompile(`^/[A-Za-z0-9._/-]+$`)
	aliasRE   = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	versionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
	proxyRE   = regexp.MustCompile(`^[A-Za-z0-9.:_-]+:[0-9]+$`)
	heapRE    = regexp.MustCompile(`^[0-9]+[kmgKMG]?$`)
)

// Validate checks the values a lab is built from.
func (c Config) Validate() error {
	var errs []error
	ports := map[int]bool{}
	for _, p := range []int{c.LeaderHTTPPort, c.LeaderTransport, c.FollowerHTTPPort, c.FollowerTransport} {
		if p <= 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("port %d is out of range", p))
		}
		ports[p] = true
	}
	if len(ports) != 4 {
		errs = append(errs, fmt.Errorf("the four ports must be distinct (got %d %d %d %d)",
			c.LeaderHTTPPort, c.LeaderTransport, c.FollowerHTTPPort, c.FollowerTransport))
	}
	if !dirRE.MatchString(c.Dir) || c.Dir == "/" {
		errs = append(errs, fmt.Errorf("LAB_DIR must be an absolute path of [A-Za-z0-9._/-] (got '%s')", c.Dir))
	}
	if !aliasRE.MatchString(c.Alias) {
		errs = append(errs, fmt.Errorf("LEADER_ALIAS must match [A-Za-z0-9_-]+ (got '%s')", c.Alias))
	}
	if !versionRE.MatchString(c.Version) {
		errs = append(errs, fmt.Errorf("bad OPENSEARCH_VERSION '%s'", c.Version))
	}
	if c.ProxyAddress != "" && !proxyRE.MatchString(c.ProxyAddress) {
		errs = append(errs, fmt.Errorf("LEADER_PROXY_ADDRESS must be host:port (got '%s')", c.ProxyAddress))
	}
	if !heapRE.MatchString(c.Heap) {
		errs = append(errs, fmt.Errorf("LAB_HEAP must be a JVM size such as 512m (got '%s')", c.Heap))
	}
	if c.Timeout <= 0 || c.StopTimeout <= 0 || c.CCRTimeout <= 0 {
		errs = append(errs, errors.New("LAB_TIMEOUT, LAB_STOP_TIMEOUT and LAB_CCR_TIMEOUT must be positive"))
	}
	return errors.Join(errs...)
}

// HTTPPort is a node's HTTP port.
func (c Config) HTTPPort(n Node) int {
	if n == Leader {
		return c.LeaderHTTPPort
	}
	return c.FollowerHTTPPort
}

// TransportPort is a node's transport port.
func (c Config) TransportPort(n Node) int {
	if n == Leader {
		return c.LeaderTransport
	}
	return c.FollowerTransport
}

// URL is a node's HTTP base URL.
func (c Config) URL(n Node) string {
	scheme := "http"
	if c.Security {
		scheme = "https"
	}
	return fmt.Sprintf("%s://127.0.0.1:%d", scheme, c.HTTPPort(n))
}

// Home is a node's OpenSearch home (also its data, logs and config).
func (c Config) Home(n Node) string { return filepath.Join(c.Dir, string(n)) }

// DistZip is the cached OpenSearch distribution.
func (c Config) DistZip() string {
	return filepath.Join(c.Cache, "opensearch-"+c.Version+".zip")
}

func (c Config) pluginName() string {
	return "opensearch-cross-cluster-replication-" + c.CCRVersion + ".zip"
}

func (c Config) sharedPluginZip() string { return filepath.Join(c.SharedCCRDir, c.pluginName()) }
func (c Config) cachedPluginZip() string { return filepath.Join(c.Cache, c.pluginName()) }
func (c Config) pluginUnavailable() string {
	return filepath.Join(c.Cache, "opensearch-cross-cluster-replication-"+c.CCRVersion+".unavailable")
}
func (c Config) pluginArtifact() string {
	return "org.opensearch.plugin:opensearch-cross-cluster-replication:" + c.CCRVersion + ":zip"
}
func (c Config) distArtifact() string {
	return "org.opensearch.distribution.integ-test-zip:opensearch:" + c.Version + ":zip"
}

// NodeConfig is the opensearch.yml of node n.
func (c Config) NodeConfig(n Node) string {
	home := c.Home(n)
	return fmt.Sprintf(`# written by drwatch's internal/lab
cluster.name: drwatch-%[1]s
node.name: %[1]s
network.host: 127.0.0.1
http.port: %[2]d
transport.port: %[3]d
path.data: %[4]s/data
path.logs: %[4]s/logs
discovery.type: single-node
cluster.routing.allocation.disk.threshold_enabled: false
action.destructive_requires_name: false
`, n, c.HTTPPort(n), c.TransportPort(n), home) + c.securityConfig()
}

func (c Config) securityConfig() string {
	if !c.Security {
		return ""
	}
	return securityNodeConfig()
}

// FindRepo walks up from dir to the drwatch checkout (the go.mod of
// github.com/drwatch/drwatch).
func FindRepo(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod")) //nolint:gosec // a go.mod above the working dir
		if err == nil && strings.Contains(string(b), "module github.com/drwatch/drwatch\n") {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("%s is not inside the drwatch checkout (no go.mod of github.com/drwatch/drwatch above it)", dir)
		}
		d = parent
	}
}

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

// Nodes are both clusters, leader first. A cluster's first node has the
// cluster's name ("leader"); with LAB_NODES=3 its others are "leader-1"
// and "leader-2" (Config.Members).
var Nodes = []Node{Leader, Follower}

// MaxNodes bounds LAB_NODES.
const MaxNodes = 5

var memberRE = regexp.MustCompile(`^(leader|follower)(-[1-9])?$`)

// ParseNode accepts "leader", "follower", or a node of either
// ("leader-1", "follower-2").
func ParseNode(s string) (Node, error) {
	if !memberRE.MatchString(s) {
		return "", fmt.Errorf("node must be 'leader' or 'follower', or a node of either such as 'leader-1' (got '%s')", s)
	}
	return Node(s), nil
}

// Cluster is the cluster node n belongs to (Leader or Follower).
func (n Node) Cluster() Node {
	c, _, _ := strings.Cut(string(n), "-")
	return Node(c)
}

// Index is node n's place in its cluster (0 for the cluster's first).
func (n Node) Index() int {
	_, i, ok := strings.Cut(string(n), "-")
	if !ok {
		return 0
	}
	k, _ := strconv.Atoi(i)
	return k
}

// member is the i-th node of cluster.
func member(cluster Node, i int) Node {
	if i == 0 {
		return cluster
	}
	return Node(fmt.Sprintf("%s-%d", cluster, i))
}

// Members are the nodes of a cluster, its first one first.
func (c Config) Members(cluster Node) []Node {
	out := make([]Node, c.NodeCount)
	for i := range out {
		out[i] = member(cluster, i)
	}
	return out
}

// AllMembers are the nodes of both clusters, the leader's first.
func (c Config) AllMembers() []Node {
	return append(c.Members(Leader), c.Members(Follower)...)
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
	NodeCount         int    // LAB_NODES: nodes per cluster (1; 3 for clusters with an elected cluster manager)

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
	keyNodes             = "LAB_NODES"
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
	c.NodeCount = num(keyNodes, 1)
	c.Heap = str("LAB_HEAP", "512m")
	if c.NodeCount > 1 && getenv("LAB_HEAP") == "" {
		c.Heap = "384m" // six JVMs on a small machine
	}
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
	if c.NodeCount < 1 || c.NodeCount > MaxNodes {
		errs = append(errs, fmt.Errorf("LAB_NODES must be 1 to %d (got %d)", MaxNodes, c.NodeCount))
	}
	ports := map[int]bool{}
	for _, p := range []int{c.LeaderHTTPPort, c.LeaderTransport, c.FollowerHTTPPort, c.FollowerTransport} {
		if p <= 0 || p > 65535-10*MaxNodes {
			errs = append(errs, fmt.Errorf("port %d is out of range", p))
		}
		ports[p] = true
	}
	if len(ports) != 4 {
		errs = append(errs, fmt.Errorf("the four ports must be distinct (got %d %d %d %d)",
			c.LeaderHTTPPort, c.LeaderTransport, c.FollowerHTTPPort, c.FollowerTransport))
	}
	if c.NodeCount > 1 && c.NodeCount >= 1 && c.NodeCount <= MaxNodes {
		all := map[int]bool{}
		for _, n := range c.AllMembers() {
			all[c.HTTPPort(n)], all[c.TransportPort(n)] = true, true
		}
		if len(all) != 4*c.NodeCount {
			errs = append(errs, fmt.Errorf("with LAB_NODES=%d the nodes' ports (the cluster's port + 10 per node) overlap", c.NodeCount))
		}
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
	if c.Security && minJava(c.Version) >= 21 {
		errs = append(errs, fmt.Errorf("LAB_SECURITY=1 runs on OpenSearch 2 only for now: the security plugin for %s needs the rule-framework plugin, which its integ-test distribution lacks and Maven Central does not serve (deploy/lab/README.md)", c.Version))
	}
	if c.Timeout <= 0 || c.StopTimeout <= 0 || c.CCRTimeout <= 0 {
		errs = append(errs, errors.New("LAB_TIMEOUT, LAB_STOP_TIMEOUT and LAB_CCR_TIMEOUT must be positive"))
	}
	return errors.Join(errs...)
}

// HTTPPort is a node's HTTP port: its cluster's, plus 10 per node before
// it (leader 19200, leader-1 19210, leader-2 19220).
func (c Config) HTTPPort(n Node) int {
	if n.Cluster() == Leader {
		return c.LeaderHTTPPort + 10*n.Index()
	}
	return c.FollowerHTTPPort + 10*n.Index()
}

// TransportPort is a node's transport port (as HTTPPort).
func (c Config) TransportPort(n Node) int {
	if n.Cluster() == Leader {
		return c.LeaderTransport + 10*n.Index()
	}
	return c.FollowerTransport + 10*n.Index()
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

// NodeConfig is the opensearch.yml of node n: a single-node cluster, or
// (LAB_NODES>1) one of several that elect a cluster manager among
// themselves.
func (c Config) NodeConfig(n Node) string {
	home := c.Home(n)
	discovery := "discovery.type: single-node\n"
	if c.NodeCount > 1 {
		var seeds, names []string
		for _, m := range c.Members(n.Cluster()) {
			seeds = append(seeds, fmt.Sprintf("%q", fmt.Sprintf("127.0.0.1:%d", c.TransportPort(m))))
			names = append(names, fmt.Sprintf("%q", m))
		}
		discovery = fmt.Sprintf("discovery.seed_hosts: [%s]\ncluster.initial_cluster_manager_nodes: [%s]\n",
			strings.Join(seeds, ", "), strings.Join(names, ", "))
	}
	return fmt.Sprintf(`# written by drwatch's internal/lab
cluster.name: drwatch-%[1]s
node.name: %[2]s
network.host: 127.0.0.1
http.port: %[3]d
transport.port: %[4]d
path.data: %[5]s/data
path.logs: %[5]s/logs
%[6]scluster.routing.allocation.disk.threshold_enabled: false
action.destructive_requires_name: false
`, n.Cluster(), n, c.HTTPPort(n), c.TransportPort(n), home, discovery) + c.securityConfig()
}

func (c Config) securityConfig() string {
	if !c.Security {
		return ""
	}
	return c.securityNodeConfig()
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

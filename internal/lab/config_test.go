package lab

import (
	"strings"
	"testing"
	"time"
)

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestFromEnvDefaults(t *testing.T) {
	c, err := FromEnv("/src/drwatch", envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"Dir", c.Dir, "/tmp/drwatch-lab"},
		{"Cache", c.Cache, "/src/drwatch/.cache/lab"},
		{"SharedCCRDir", c.SharedCCRDir, "/src/shared/ccr-plugin"},
		{"Version", c.Version, "2.19.3"},
		{"CCRVersion", c.CCRVersion, "2.19.3.0"},
		{"Alias", c.Alias, "leader"},
		{"URL(Leader)", c.URL(Leader), "http://127.0.0.1:19200"},
		{"URL(Follower)", c.URL(Follower), "http://127.0.0.1:19201"},
		{"Home(Follower)", c.Home(Follower), "/tmp/drwatch-lab/follower"},
		{"DistZip", c.DistZip(), "/src/drwatch/.cache/lab/opensearch-2.19.3.zip"},
		{"shared zip", c.sharedPluginZip(), "/src/shared/ccr-plugin/opensearch-cross-cluster-replication-2.19.3.0.zip"},
		{"plugin artifact", c.pluginArtifact(), "org.opensearch.plugin:opensearch-cross-cluster-replication:2.19.3.0:zip"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if c.TransportPort(Leader) != 19300 || c.TransportPort(Follower) != 19301 {
		t.Errorf("transport ports %d %d", c.TransportPort(Leader), c.TransportPort(Follower))
	}
	if c.Timeout != 240*time.Second || c.StopTimeout != 20*time.Second || c.CCRTimeout != 180*time.Second {
		t.Errorf("timeouts %s %s %s", c.Timeout, c.StopTimeout, c.CCRTimeout)
	}
	if c.CI || c.RetryCCR || c.PluginZip != "" {
		t.Errorf("CI %v RetryCCR %v PluginZip %q", c.CI, c.RetryCCR, c.PluginZip)
	}
}

func TestFromEnvOverrides(t *testing.T) {
	c, err := FromEnv("/r", envOf(map[string]string{
		"LAB_DIR": "/var/tmp/lab2/", "LEADER_HTTP_PORT": "29200", "LEADER_ALIAS": "dc1",
		"JAVA_HOME": "/jdk", "OPENSEARCH_JAVA_HOME": "/osjdk", "CI": "true", "LAB_TIMEOUT": "9",
		"LEADER_PROXY_ADDRESS": "127.0.0.1:4000",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Dir != "/var/tmp/lab2" || c.LeaderHTTPPort != 29200 || c.Alias != "dc1" || !c.CI || c.Timeout != 9*time.Second {
		t.Errorf("got %+v", c)
	}
	if c.JavaHome != "/osjdk" {
		t.Errorf("JavaHome = %q: OPENSEARCH_JAVA_HOME comes before JAVA_HOME", c.JavaHome)
	}
	if c.ProxyAddress != "127.0.0.1:4000" {
		t.Errorf("ProxyAddress = %q", c.ProxyAddress)
	}
}

func TestFromEnvRejects(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"LEADER_HTTP_PORT": "http"}, "LEADER_HTTP_PORT must be a number"},
		{map[string]string{"FOLLOWER_HTTP_PORT": "19200"}, "four ports must be distinct"},
		{map[string]string{"LAB_DIR": "relative/dir"}, "LAB_DIR must be an absolute path"},
		{map[string]string{"LAB_DIR": "/tmp/with space"}, "LAB_DIR must be an absolute path"},
		{map[string]string{"LAB_DIR": "/"}, "LAB_DIR must be an absolute path"},
		{map[string]string{"LEADER_ALIAS": "a:b"}, "LEADER_ALIAS must match"},
		{map[string]string{"OPENSEARCH_VERSION": "2.19"}, "bad OPENSEARCH_VERSION"},
		{map[string]string{"LEADER_PROXY_ADDRESS": "nohostport"}, "LEADER_PROXY_ADDRESS must be host:port"},
		{map[string]string{"LAB_HEAP": "-Xmx1g"}, "LAB_HEAP must be a JVM size"},
		{map[string]string{"LAB_STOP_TIMEOUT": "0"}, "must be positive"},
	} {
		_, err := FromEnv("/r", envOf(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want it to say %q", tc.env, err, tc.want)
		}
	}
}

func TestNodeConfig(t *testing.T) {
	c, err := FromEnv("/r", envOf(map[string]string{"LAB_DIR": "/tmp/l", "FOLLOWER_TRANSPORT_PORT": "29301"}))
	if err != nil {
		t.Fatal(err)
	}
	got := c.NodeConfig(Follower)
	for _, line := range []string{
		"cluster.name: drwatch-follower", "node.name: follower", "network.host: 127.0.0.1",
		"http.port: 19201", "transport.port: 29301", "path.data: /tmp/l/follower/data",
		"path.logs: /tmp/l/follower/logs", "discovery.type: single-node",
		"cluster.routing.allocation.disk.threshold_enabled: false", "action.destructive_requires_name: false",
	} {
		if !strings.Contains(got, "\n"+line+"\n") {
			t.Errorf("follower opensearch.yml lacks %q:\n%s", line, got)
		}
	}
	if l := c.NodeConfig(Leader); !strings.Contains(l, "\nhttp.port: 19200\n") || !strings.Contains(l, "\ntransport.port: 19300\n") || !strings.Contains(l, "cluster.name: drwatch-leader\n") {
		t.Errorf("leader opensearch.yml:\n%s", l)
	}
}

func TestMergeSavedValues(t *testing.T) {
	saved := state{Version: "2.19.3", LeaderHTTPPort: 29200, LeaderTransport: 29300, FollowerHTTPPort: 29201, FollowerTransport: 29301, Alias: "dc1"}

	c, _ := FromEnv("/r", envOf(nil))
	if err := c.merge(saved); err != nil {
		t.Fatal(err)
	}
	if c.LeaderHTTPPort != 29200 || c.FollowerTransport != 29301 || c.Alias != "dc1" {
		t.Errorf("unset values not taken from the running lab: %+v", c)
	}

	c, _ = FromEnv("/r", envOf(map[string]string{"LEADER_HTTP_PORT": "29200"}))
	if err := c.merge(saved); err != nil {
		t.Errorf("an explicit value equal to the lab's is fine: %v", err)
	}

	c, _ = FromEnv("/r", envOf(map[string]string{"LEADER_ALIAS": "other"}))
	err := c.merge(saved)
	if err == nil || !strings.Contains(err.Error(), "LEADER_ALIAS=other differs from the running lab") || !strings.Contains(err.Error(), "run down first") {
		t.Errorf("conflict: err = %v", err)
	}
}

func TestParseNode(t *testing.T) {
	if n, err := ParseNode("follower"); err != nil || n != Follower {
		t.Errorf("follower: %v %v", n, err)
	}
	if _, err := ParseNode("Leader"); err == nil {
		t.Error("ParseNode accepted Leader")
	}
}

package opensearch_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/drwatch/drwatch/internal/opensearch"
)

type roleFile map[string]struct {
	ClusterPermissions []string `yaml:"cluster_permissions"`
	IndexPermissions   []struct {
		IndexPatterns  []string `yaml:"index_patterns"`
		AllowedActions []string `yaml:"allowed_actions"`
	} `yaml:"index_permissions"`
}

// grants are "role|pattern|action" (pattern "" for a cluster permission).
func grants(t *testing.T, side opensearch.Side) map[string]bool {
	t.Helper()
	path := filepath.Join("..", "..", "deploy", "security", string(side)+".yml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rf roleFile
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]bool{}
	for role, r := range rf {
		if role == "_meta" {
			continue
		}
		for _, a := range r.ClusterPermissions {
			out[role+"||"+a] = true
		}
		for _, ip := range r.IndexPermissions {
			for _, p := range ip.IndexPatterns {
				for _, a := range ip.AllowedActions {
					out[role+"|"+p+"|"+a] = true
				}
			}
		}
	}
	return out
}

func pattern(on opensearch.Target) string {
	switch on {
	case opensearch.OnCluster:
		return ""
	case opensearch.OnWitness:
		return opensearch.WitnessIndex
	case opensearch.OnHA, opensearch.OnWrite:
		return ".drwatch-ha*"
	}
	return "*"
}

// deploy/security's role files grant exactly the permissions of the table,
// each on what the table says.
func TestRoleFilesGrantExactlyThePermissions(t *testing.T) {
	for _, side := range []opensearch.Side{opensearch.SideLeader, opensearch.SideFollower} {
		have := grants(t, side)
		want := map[string]bool{}
		for _, p := range opensearch.PermissionsOf(side) {
			want[p.Role+"|"+pattern(p.On)+"|"+p.Action] = true
		}
		for k := range want {
			if !have[k] {
				t.Errorf("%s.yml does not grant %s (role|pattern|action)", side, k)
			}
		}
		for k := range have {
			if !want[k] {
				t.Errorf("%s.yml grants %s, which the permission table does not name", side, k)
			}
		}
	}
	roles := map[string]bool{}
	for _, p := range opensearch.Permissions {
		roles[p.Role] = true
	}
	for r := range roles {
		if !slices.Contains([]string{"drwatch_watch", "drwatch_promote", "drwatch_ha", "drwatch_drill"}, r) {
			t.Errorf("unknown role %s in the table", r)
		}
	}
}

package observe_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The decision core and what it stores depend on no HTTP client: they
// take observations as data, however they were taken. Who may import
// what is part of the design (docs/architecture.md); this keeps it true.
func TestDecisionCoreDependsOnNoClient(t *testing.T) {
	forbidden := []string{
		"net/http",
		"github.com/opensearch-project/opensearch-go",
		"github.com/drwatch/drwatch/internal/opensearch",
		"github.com/drwatch/drwatch/internal/probe",
		"go.uber.org/zap",
	}
	for _, pkg := range []string{"./", "../policy", "../journal"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 2 {
			t.Fatalf("go list -deps %s listed %q: not a dependency list", pkg, deps)
		}
		for _, d := range deps {
			for _, f := range forbidden {
				if d == f || strings.HasPrefix(d, f+"/") {
					t.Errorf("%s depends on %s: the decision core must not depend on a client", pkg, d)
				}
			}
		}
	}
}

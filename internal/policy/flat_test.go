package policy_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/policy"
)

// The state's groups are embedded: the journal's JSON is one flat object,
// as it was before they were grouped.
func TestStateJSONIsFlat(t *testing.T) {
	var st policy.State
	st.Phase, st.Episode, st.Degraded = policy.Suspect, true, true
	st.ObservedAt = time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"phase", "episode", "degraded", "observed_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing at the top of %s", k, b)
		}
	}
	for _, k := range []string{"Tracking", "Health", "Cooldown"} {
		if _, ok := m[k]; ok {
			t.Errorf("group %s is nested in the JSON: %s", k, b)
		}
	}
}

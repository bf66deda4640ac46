package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/drwatch/drwatch/internal/observe"
)

// AivenProblems names what is wrong in an Aiven reading: the API failing,
// a service powered off or rebuilding, the CCR integration missing,
// failed or inactive. A node recycle (REBALANCING, nodes leaving) is
// maintenance, not a problem: AivenSummary shows it.
func AivenProblems(a *observe.Aiven) []string {
	var p []string
	if a.Failure != nil {
		p = append(p, "Aiven API "+aivenVerb(a.Failure)+": "+a.Failure.Message)
	}
	for _, s := range []struct {
		role string
		svc  *observe.AivenService
	}{{"leader", a.Leader}, {"follower", a.Follower}} {
		if s.svc != nil && (s.svc.State == observe.AivenPoweroff || s.svc.State == observe.AivenRebuilding) {
			p = append(p, fmt.Sprintf("Aiven reports %s service %s %s", s.role, s.svc.Name, s.svc.State))
		}
	}
	if in := a.Integration; in != nil {
		switch {
		case !in.Found:
			p = append(p, "Aiven lists no cross-cluster replication integration between the pair's services: the follower service is standalone")
		case in.Status == observe.IntegrationFailed:
			p = append(p, fmt.Sprintf("Aiven reports the cross-cluster replication integration %s failed", in.ID))
		case !in.Active:
			p = append(p, fmt.Sprintf("Aiven reports the cross-cluster replication integration %s not active", in.ID))
		}
	}
	return p
}

func aivenVerb(f *observe.Failure) string {
	switch f.Class {
	case observe.ClassConnRefused, observe.ClassTimeout, observe.ClassDNS, observe.ClassNetwork, observe.ClassTLS:
		return "unreachable"
	}
	return "failing"
}

// AivenSummary says in one line what the Aiven API reported at the
// observation's time at: both services, the CCR integration, and how old
// the reading is. "os-prod RUNNING, 3/3 nodes running; os-dr RUNNING,
// 3/3 nodes running; CCR integration running (read 5s earlier)".
func AivenSummary(a *observe.Aiven, at time.Time) string {
	var parts []string
	if a.Failure != nil {
		parts = append(parts, fmt.Sprintf("API %s (%s)", aivenVerb(a.Failure), a.Failure.Class))
	}
	for _, s := range []*observe.AivenService{a.Leader, a.Follower} {
		if s != nil {
			parts = append(parts, fmt.Sprintf("%s %s, %s", s.Name, s.State, s.Nodes()))
		}
	}
	if in := a.Integration; in != nil {
		switch {
		case !in.Found:
			parts = append(parts, "no CCR integration")
		case in.Active:
			parts = append(parts, "CCR integration "+orNone(in.Status))
		default:
			parts = append(parts, "CCR integration not active ("+orNone(in.Status)+")")
		}
	}
	when := "read in this probe"
	if age := a.Age(at); age != 0 {
		when = fmt.Sprintf("read %s earlier", max(age, 0).Round(time.Second))
	}
	return strings.Join(parts, "; ") + " (" + when + ")"
}

func orNone(s string) string {
	if s == "" {
		return "status unknown"
	}
	return s
}

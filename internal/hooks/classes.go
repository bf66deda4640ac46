package hooks

// class is what an event does to incidents: a Trigger opens (or updates)
// the incident of kinds[0]; a Resolve closes every kind listed.
type class struct {
	action   Action
	severity Severity
	kinds    []string
}

// classes maps every event (docs/events.md) to its class: the table in
// docs/hooks.md. A test keeps it complete.
var classes = map[string]class{
	"leader_suspect":           {Trigger, Warning, []string{KindOutage}},
	"leader_down":              {Trigger, Critical, []string{KindOutage}},
	"watcher_isolated":         {Trigger, Warning, []string{KindOutage}},
	"leader_recovered":         {Resolve, Notice, []string{KindOutage}},
	"replication_degraded":     {Trigger, Warning, []string{KindReplication}},
	"replication_recovered":    {Resolve, Notice, []string{KindReplication}},
	"leader_degraded":          {Trigger, Warning, []string{KindLeader}},
	"leader_writable":          {Resolve, Notice, []string{KindLeader}},
	"retention_lease_expiring": {Trigger, Warning, []string{KindLease}},
	"retention_lease_renewed":  {Resolve, Notice, []string{KindLease}},
	"approval_required":        {Trigger, Critical, []string{KindOutage}},
	"approval_granted":         {Trigger, Critical, []string{KindOutage}},
	"approval_denied":          {Trigger, Critical, []string{KindOutage}},
	"approval_expired":         {Trigger, Critical, []string{KindOutage}},
	"promotion_vetoed":         {Trigger, Critical, []string{KindOutage}},
	"promotion_started":        {Trigger, Critical, []string{KindOutage}},
	"promotion_failed":         {Trigger, Critical, []string{KindOutage}},
	"promotion_succeeded":      {Resolve, Notice, []string{KindOutage, KindReplication}},
	"old_leader_returned":      {Trigger, Critical, []string{KindOldLeader}},
	"old_leader_fenced":        {Resolve, Notice, []string{KindOldLeader}},
	"journal_unwritable":       {Trigger, Critical, []string{KindJournal}},
	"journal_recovered":        {Resolve, Notice, []string{KindJournal}},
	"drill_failed":             {Trigger, Warning, []string{KindDrill}},
	"drill_succeeded":          {Resolve, Notice, []string{KindDrill}},
}

// Classify sets ev's Action, Severity, IncidentKey and AlsoResolves from
// its event name and pair. It reports false for a name it does not know.
func Classify(ev *Event) bool {
	c, ok := classes[ev.Event]
	if !ok {
		return false
	}
	ev.Action, ev.Severity = c.action, c.severity
	ev.IncidentKey = Key(ev.Pair, c.kinds[0])
	ev.AlsoResolves = nil
	for _, k := range c.kinds[1:] {
		ev.AlsoResolves = append(ev.AlsoResolves, Key(ev.Pair, k))
	}
	return true
}

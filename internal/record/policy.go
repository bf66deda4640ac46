package record

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/drwatch/drwatch/internal/config"
)

// Policy is a resolved policy as the record keeps it: every key of
// config.Policy, durations in Go syntax ("30s").
type Policy struct {
	Name                   string   `json:"name"`
	Mode                   string   `json:"mode"`
	ProbeInterval          string   `json:"probe_interval"`
	ProbeTimeout           string   `json:"probe_timeout"`
	LeaderDownAfter        string   `json:"leader_down_after"`
	MinFailedProbes        int      `json:"min_failed_probes"`
	RequireFollowerWitness bool     `json:"require_follower_witness"`
	MaxLagOperations       int64    `json:"max_lag_operations"`
	MaxObservationAge      string   `json:"max_observation_age"`
	ApprovalTimeout        string   `json:"approval_timeout"`
	OnApprovalTimeout      string   `json:"on_approval_timeout"`
	Cooldown               string   `json:"cooldown"`
	FenceLeader            bool     `json:"fence_leader"`
	PromoteConcurrency     int      `json:"promote_concurrency"`
	MaintenanceWindows     []Window `json:"maintenance_windows,omitempty"`
}

// Window is a maintenance window.
type Window struct {
	Schedule string `json:"schedule"`
	Duration string `json:"duration"`
}

// PolicyOf is the record's form of a resolved policy (unset pointers read
// as the built-in defaults, as config's loading fills them).
func PolicyOf(p *config.Policy) Policy {
	if p == nil {
		return Policy{}
	}
	def := config.DefaultPolicy()
	out := Policy{
		Name: p.Name, Mode: p.Mode,
		ProbeInterval: p.ProbeInterval.String(), ProbeTimeout: p.ProbeTimeout.String(), LeaderDownAfter: p.LeaderDownAfter.String(),
		MinFailedProbes:        p.MinFailedProbes,
		RequireFollowerWitness: deref(p.RequireFollowerWitness, def.RequireFollowerWitness),
		MaxLagOperations:       deref(p.MaxLagOperations, def.MaxLagOperations),
		MaxObservationAge:      p.MaxObservationAge.String(),
		ApprovalTimeout:        p.ApprovalTimeout.String(),
		OnApprovalTimeout:      p.OnApprovalTimeout,
		Cooldown:               deref(p.Cooldown, def.Cooldown).String(),
		FenceLeader:            deref(p.FenceLeader, def.FenceLeader),
		PromoteConcurrency:     p.PromoteConcurrency,
	}
	for _, w := range p.MaintenanceWindows {
		out.MaintenanceWindows = append(out.MaintenanceWindows, Window{Schedule: w.Schedule.Spec, Duration: w.Duration.String()})
	}
	return out
}

func deref[T any](v, def *T) T {
	if v != nil {
		return *v
	}
	return *def
}

// Config is the policy as config.Policy, for the decision core.
func (p Policy) Config() (*config.Policy, error) {
	out := &config.Policy{Name: p.Name, Mode: p.Mode, MinFailedProbes: p.MinFailedProbes, OnApprovalTimeout: p.OnApprovalTimeout,
		PromoteConcurrency: p.PromoteConcurrency}
	w, lag, fence := p.RequireFollowerWitness, p.MaxLagOperations, p.FenceLeader
	out.RequireFollowerWitness, out.MaxLagOperations, out.FenceLeader = &w, &lag, &fence
	var cd config.Duration
	for _, d := range []struct {
		key string
		v   string
		to  *config.Duration
	}{
		{"probe_interval", p.ProbeInterval, &out.ProbeInterval},
		{"probe_timeout", p.ProbeTimeout, &out.ProbeTimeout},
		{"leader_down_after", p.LeaderDownAfter, &out.LeaderDownAfter},
		{"max_observation_age", p.MaxObservationAge, &out.MaxObservationAge},
		{"approval_timeout", p.ApprovalTimeout, &out.ApprovalTimeout},
		{"cooldown", p.Cooldown, &cd},
	} {
		v, err := time.ParseDuration(d.v)
		if err != nil {
			return nil, fmt.Errorf("policy %s: %s: %w", p.Name, d.key, err)
		}
		*d.to = config.Duration(v)
	}
	out.Cooldown = &cd
	for i, w := range p.MaintenanceWindows {
		s, err := cron.ParseStandard(w.Schedule)
		if err != nil {
			return nil, fmt.Errorf("policy %s: maintenance_windows[%d].schedule: %w", p.Name, i, err)
		}
		d, err := time.ParseDuration(w.Duration)
		if err != nil {
			return nil, fmt.Errorf("policy %s: maintenance_windows[%d].duration: %w", p.Name, i, err)
		}
		out.MaintenanceWindows = append(out.MaintenanceWindows, config.MaintenanceWindow{
			Schedule: config.Schedule{Spec: w.Schedule, Sched: s}, Duration: config.Duration(d)})
	}
	return out, nil
}

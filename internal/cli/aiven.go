package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/drwatch/drwatch/internal/aiven"
	"github.com/drwatch/drwatch/internal/buildinfo"
	"github.com/drwatch/drwatch/internal/config"
)

const aivenUsage = "usage: drwatch aiven discover --project P [--json] [--timeout 1m]\n       drwatch aiven follow --config FILE --pair NAME [--yes] [--dry-run] [--timeout 5m] [--json]"

// aivenCmd is `drwatch aiven discover --project P [--json]`: the
// project's CCR pairs, and a config for them. The token comes from
// $AIVEN_TOKEN and the API's address from $AIVEN_WEB_URL (default the
// public API), as Aiven's own tools read them. `drwatch aiven follow` is
// aivenFollowCmd.
func aivenCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "follow" {
		return aivenFollowCmd(args[1:], stdin, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "discover" {
		fmt.Fprintln(stderr, aivenUsage)
		return ExitUsage
	}
	fs := newFlags("aiven discover", stderr)
	project := fs.String("project", "", "the Aiven project")
	asJSON := fs.Bool("json", false, "print JSON")
	timeout := fs.Duration("timeout", time.Minute, "bound of the whole discovery")
	if rc := parse(fs, args[1:]); rc >= 0 {
		return rc
	}
	if *project == "" {
		fmt.Fprintf(stderr, "drwatch aiven discover: --project is required\n%s\n", aivenUsage)
		return ExitUsage
	}
	token, ok := os.LookupEnv(aiven.EnvToken)
	if !ok || strings.TrimSpace(token) == "" {
		fmt.Fprintf(stderr, "drwatch aiven discover: set %s to an Aiven API token\n", aiven.EnvToken)
		return ExitUsage
	}
	log, err := NewLogger("console", "warn", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "drwatch aiven discover: %v\n", err)
		return ExitFailure
	}
	c, err := aiven.New(aiven.Options{Token: config.NewSecret(strings.TrimSpace(token)), Log: log,
		UserAgent: "drwatch/" + buildinfo.Version})
	if err != nil {
		fmt.Fprintf(stderr, "drwatch aiven discover: %v\n", err)
		return ExitFailure
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	d, err := aiven.Discover(ctx, c, *project)
	if err != nil {
		fmt.Fprintf(stderr, "drwatch aiven discover: %v\n", err)
		return ExitFailure
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(d)
	} else {
		err = discoveryText(stdout, d)
	}
	if err != nil {
		fmt.Fprintf(stderr, "drwatch aiven discover: %v\n", err)
		return ExitFailure
	}
	return ExitOK
}

// discoveryText prints the pairs as a YAML document: what was found in
// comments, then pairs: with one entry per pair, so that the output can be
// saved as a config (or its entries pasted under an existing pairs:).
func discoveryText(w io.Writer, d aiven.Discovery) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Aiven project %s (%s): %d cross-cluster replication pair(s)\n", d.Project, d.APIURL, len(d.Pairs))
	if len(d.Pairs) == 0 {
		b.WriteString("# no opensearch_cross_cluster_replication integration in this project\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	envs := map[string]bool{}
	for _, p := range d.Pairs {
		status := p.Integration.Status
		if status == "" {
			status = "unknown"
		}
		fmt.Fprintf(&b, "#\n# %s -> %s  integration %s (%s, active %t)\n", p.Leader.Name, p.Follower.Name, p.Integration.ID, status, p.Integration.Active)
		for _, s := range []struct {
			role string
			svc  aiven.Service
		}{{"leader", p.Leader}, {"follower", p.Follower}} {
			fmt.Fprintf(&b, "#   %-8s %-20s %-11s plan %-14s OpenSearch %-8s nodes %s\n", s.role, s.svc.Name,
				orDash(s.svc.State), orDash(s.svc.Plan), orDash(s.svc.Version), nodeSummary(s.svc.Nodes))
			envs[aiven.PasswordEnv(s.svc.Name)] = true
		}
		fmt.Fprintf(&b, "#   follower's remote alias for the leader: %s\n", p.LeaderAlias)
		for _, n := range p.Notes {
			fmt.Fprintf(&b, "#   note: %s\n", n)
		}
	}
	b.WriteString("#\n# Set the avnadmin passwords in ")
	first := true
	for _, p := range d.Pairs {
		for _, s := range []aiven.Service{p.Leader, p.Follower} {
			e := aiven.PasswordEnv(s.Name)
			if envs[e] {
				if !first {
					b.WriteString(", ")
				}
				b.WriteString(e)
				first = false
				delete(envs, e)
			}
		}
	}
	fmt.Fprintf(&b, " and the API token in %s.\n", aiven.EnvToken)
	b.WriteString("pairs:\n")
	for _, p := range d.Pairs {
		b.WriteString(p.Config)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// nodeSummary is "3/3 running", or the states when not all run.
func nodeSummary(nodes []aiven.Node) string {
	if len(nodes) == 0 {
		return "-"
	}
	running := 0
	var other []string
	for _, n := range nodes {
		if n.State == "running" {
			running++
		} else {
			other = append(other, n.Name+" "+n.State)
		}
	}
	s := fmt.Sprintf("%d/%d running", running, len(nodes))
	if len(other) > 0 {
		s += " (" + strings.Join(other, ", ") + ")"
	}
	return s
}

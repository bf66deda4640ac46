package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/drwatch/drwatch/internal/failback"
)

const aivenFollowUsage = "usage: drwatch aiven follow --config FILE --pair NAME [--yes] [--dry-run] [--timeout 5m] [--json]"

// followTuning holds what tests shorten: how often the new integration is
// read while it settles, and the Aiven client's first retry wait (0: the
// client's default).
var followTuning = failback.Tuning{Poll: 2 * time.Second}

// aivenFollowCmd is `drwatch aiven follow`: make the old leader of a
// promoted Aiven pair a follower of the promoted service, after checks and
// a human's confirmation, and say what to do next. It never deletes data
// and never starts replication itself.
func aivenFollowCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("aiven follow", stderr)
	path := fs.String("config", "", "config file")
	pairName := fs.String("pair", "", "the promoted Aiven pair whose old leader becomes a follower")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	dryRun := fs.Bool("dry-run", false, "run the checks, show the plan and change nothing")
	timeout := fs.Duration("timeout", 5*time.Minute, "bound of the create and of the wait until the integration is active")
	asJSON := fs.Bool("json", false, "print JSON")
	cfg, rc := parseAndLoad(fs, args, path)
	if rc >= 0 {
		return rc
	}
	if *pairName == "" {
		fmt.Fprintf(stderr, "drwatch aiven follow: --pair NAME is required\n%s\n", aivenFollowUsage)
		return ExitUsage
	}
	p, ok := cfg.Pair(*pairName)
	if !ok {
		names := make([]string, 0, len(cfg.Pairs))
		for _, q := range cfg.Pairs {
			names = append(names, q.Name)
		}
		fmt.Fprintf(stderr, "drwatch aiven follow: no pair %q in %s (pairs: %s)\n", *pairName, *path, strings.Join(names, ", "))
		return ExitUsage
	}
	if p.Aiven == nil {
		fmt.Fprintf(stderr, "drwatch aiven follow: pair %q in %s has no aiven block: it is not an Aiven pair\n", p.Name, *path)
		return ExitUsage
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "drwatch aiven follow: --timeout must be positive\n")
		return ExitUsage
	}
	log, err := NewLogger("console", "warn", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "drwatch aiven follow: %v\n", err)
		return ExitFailure
	}
	client, err := failback.Client(p, log, followTuning)
	if err != nil {
		fmt.Fprintf(stderr, "drwatch aiven follow: pair %s: %v\n", p.Name, err)
		return ExitFailure
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	out := stdout
	prompt := stdout
	if *asJSON {
		out, prompt = io.Discard, stderr
	}
	r := &failback.Report{Pair: p.Name, Indices: []string{}, StaleIndices: []string{}} // replaced by the checks'
	finish := func(outcome string, err error) int {
		r.Outcome = outcome
		if err != nil {
			r.Error = err.Error()
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			if jerr := enc.Encode(r); jerr != nil {
				fmt.Fprintf(stderr, "drwatch aiven follow: %v\n", jerr)
				return ExitFailure
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "drwatch aiven follow: %v\n", err)
		}
		switch outcome {
		case failback.Created, failback.AlreadyFollowing, failback.DryRun:
			return ExitOK
		case failback.NotConfirmed:
			return ExitUsage
		default:
			return ExitFailure
		}
	}

	a := p.Aiven
	fmt.Fprintf(out, "pair %s (Aiven project %s): make the old leader %s a follower of the promoted %s\n", p.Name, a.Project, a.LeaderService, a.FollowerService)
	r = failback.Check(ctx, client, p)
	fmt.Fprintln(out, "checks:")
	for _, c := range r.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(out, "  %s  %s: %s\n", mark, c.Name, c.Detail)
	}
	if !r.Passed() {
		n := 0
		for _, c := range r.Checks {
			if !c.OK {
				n++
			}
		}
		return finish(failback.Refused, fmt.Errorf("refused: %d check(s) failed; nothing was changed", n))
	}
	next, err := failback.NextSteps(cfg, p, r)
	if err != nil {
		return finish(failback.Failed, err)
	}
	r.Next = next
	if r.Following != nil {
		r.Integration = r.Following
		fmt.Fprintf(out, "\n%s already follows %s (integration %s): nothing to do with the Aiven API\n", a.LeaderService, a.FollowerService, r.Following.ID)
		failback.PrintNext(out, r.Next, "")
		return finish(failback.AlreadyFollowing, nil)
	}

	r.Plan = failback.Plan(p, *timeout)
	fmt.Fprintln(out, "\nplan:")
	for i, s := range r.Plan {
		fmt.Fprintf(out, "  %d. %s\n", i+1, s)
	}
	if *dryRun {
		failback.PrintNext(out, r.Next, "after the integration is created, ")
		fmt.Fprintln(out, "\ndry-run: nothing was changed")
		return finish(failback.DryRun, nil)
	}
	if !*yes {
		if !isTerminal(stdin) {
			fmt.Fprintln(stderr, "drwatch aiven follow: not a terminal: pass --yes to create the integration without confirmation (or --dry-run to change nothing)")
			return ExitUsage
		}
		fmt.Fprintf(prompt, "\nType the old leader's service name (%s) to make it a follower of %s: ", a.LeaderService, a.FollowerService)
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if strings.TrimSpace(line) != a.LeaderService {
			return finish(failback.NotConfirmed, errors.New("not confirmed; nothing was changed"))
		}
		// The prompt may have waited long: the Aiven side is checked again
		// right before the create.
		if again, ok := failback.Recheck(ctx, client, p); !ok {
			r.Failback = again
			for _, c := range again.Checks {
				if !c.OK {
					fmt.Fprintf(out, "  FAIL  %s: %s\n", c.Name, c.Detail)
				}
			}
			return finish(failback.Refused, errors.New("refused: the Aiven checks changed while waiting for confirmation; nothing was changed: run the command again"))
		}
	}

	fmt.Fprintf(out, "\ncreating the integration %s -> %s ...\n", a.FollowerService, a.LeaderService)
	cctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := failback.Create(cctx, client, r, followTuning.Poll)
	if err != nil {
		return finish(failback.Failed, err)
	}
	how := "created"
	if res.Existed {
		how = "found (the create answered that it exists: an earlier attempt made it)"
	}
	fmt.Fprintf(out, "integration %s %s; active after %s (status %s)\n", res.Integration.ID, how, res.Waited.Round(100*time.Millisecond), orDash(res.Integration.Status))
	failback.PrintNext(out, r.Next, "")
	return finish(failback.Created, nil)
}

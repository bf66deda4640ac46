package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"strings"
	"syscall"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/policy"
)

// who names the person running the command, for the journal.
func who() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

func promoteCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("promote", stderr)
	path := fs.String("config", "", "config file")
	pair := fs.String("pair", "", "pair to promote")
	graceful := fs.Bool("graceful", false, "leader alive: write-block it, wait until the follower has caught up, then promote (zero data loss)")
	dryRun := fs.Bool("dry-run", false, "show the plan and change nothing")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	reason := fs.String("reason", "", "why (journaled)")
	cfg, rc := parseAndLoad(fs, args, path)
	if rc >= 0 {
		return rc
	}
	if *pair == "" {
		fmt.Fprintln(stderr, "drwatch promote: --pair NAME is required")
		return ExitUsage
	}
	log, _ := NewLogger("console", "warn", stderr)
	var confirm func(string) bool
	if !*yes && !*dryRun {
		if !isTerminal(stdin) {
			fmt.Fprintln(stderr, "drwatch promote: not a terminal: pass --yes to promote without confirmation")
			return ExitUsage
		}
		confirm = func(string) bool {
			fmt.Fprintf(stdout, "Type the pair name (%s) to promote it: ", *pair)
			line, _ := bufio.NewReader(stdin).ReadString('\n')
			return strings.TrimSpace(line) == *pair
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := promoteNow(ctx, cfg, promoteOptions{
		Pair: *pair, Graceful: *graceful, DryRun: *dryRun, By: who(), Reason: *reason,
		Confirm: confirm, Out: stdout, Log: log,
	})
	if err != nil {
		fmt.Fprintf(stderr, "drwatch promote: %v\n", err)
		if errors.Is(err, errNotConfirmed) {
			return ExitUsage
		}
		return ExitFailure
	}
	return ExitOK
}

// isTerminal reports whether r is a terminal (a test may replace it).
var isTerminal = func(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// remoteCmd is approve, deny, pause and resume: a call
// to a running daemon's API.
func remoteCmd(action string, args []string, stdout, stderr io.Writer) int {
	fs := newFlags(action, stderr)
	server := fs.String("server", "", "drwatch daemon URL, e.g. http://127.0.0.1:9464")
	pair := fs.String("pair", "", "pair")
	reason := fs.String("reason", "", "why (journaled)")
	tokenFile := fs.String("token-file", "", "file holding the API bearer token (default: $DRWATCH_API_TOKEN)")
	var pauseFor *time.Duration
	if action == "pause" {
		pauseFor = fs.Duration("for", policy.DefaultPauseFor, "how long to pause")
	}
	var approvalID *string
	if action == "approve" {
		approvalID = fs.String("id", "", "the approval request to approve (default: the pending one, shown before it is sent)")
	}
	if rc := parse(fs, args); rc >= 0 {
		return rc
	}
	if *server == "" || *pair == "" {
		fmt.Fprintf(stderr, "drwatch %s: --server URL and --pair NAME are required\n", action)
		return ExitUsage
	}
	token := strings.TrimSpace(os.Getenv("DRWATCH_API_TOKEN"))
	if *tokenFile != "" {
		tok, err := config.ReadSecretFile(*tokenFile)
		if err != nil {
			fmt.Fprintf(stderr, "drwatch %s: --token-file: %v\n", action, err)
			return ExitFailure
		}
		token = tok.Reveal()
	}
	body := map[string]string{"reason": *reason, "by": who()}
	if pauseFor != nil {
		body["for"] = pauseFor.String()
	}
	if approvalID != nil {
		id := *approvalID
		if id == "" {
			var err error
			if id, err = pendingApproval(*server, *pair, stdout); err != nil {
				fmt.Fprintf(stderr, "drwatch approve: %v\n", err)
				return ExitFailure
			}
		}
		body["id"] = id
	}
	b, _ := json.Marshal(body)
	url := strings.TrimRight(*server, "/") + "/api/v1/pairs/" + *pair + "/" + action
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		fmt.Fprintf(stderr, "drwatch %s: %v\n", action, err)
		return ExitUsage
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "drwatch %s: %v\n", action, err)
		return ExitFailure
	}
	defer resp.Body.Close()
	var out struct {
		State   string   `json:"state"`
		Reasons []string `json:"reasons"`
		Error   string   `json:"error"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = json.Unmarshal(raw, &out)
	if resp.StatusCode == http.StatusAccepted {
		// ha: a standby passed it to the lease holder, which applies it
		// at its next cycle.
		fmt.Fprintf(stdout, "pair %s: %s\n", *pair, out.Error)
		return ExitOK
	}
	if resp.StatusCode != http.StatusOK {
		msg := out.Error
		if msg == "" {
			msg = strings.TrimSpace(string(raw))
		}
		fmt.Fprintf(stderr, "drwatch %s: %s (HTTP %d)\n", action, msg, resp.StatusCode)
		if out.State != "" {
			fmt.Fprintf(stderr, "pair %s is %s\n", *pair, out.State)
		}
		return ExitFailure
	}
	fmt.Fprintf(stdout, "pair %s: %s\n", *pair, out.State)
	for _, r := range out.Reasons {
		fmt.Fprintf(stdout, "  - %s\n", r)
	}
	return ExitOK
}

// pendingApproval reads the pair's decision from the daemon, shows the
// situation being approved, and returns the pending request's id ("" when
// none is pending: manual mode, denied or expired).
func pendingApproval(server, pair string, stdout io.Writer) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(server, "/")+"/api/v1/status/"+pair, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var st struct {
		Pairs []struct {
			Decision *struct {
				State             string    `json:"state"`
				Reasons           []string  `json:"reasons"`
				RPOGuard          string    `json:"rpo_guard"`
				ApprovalID        string    `json:"approval_id"`
				ApprovalExpiresAt time.Time `json:"approval_expires_at"`
			} `json:"decision"`
		} `json:"pairs"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status of pair %s: HTTP %d %s", pair, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	if err := json.Unmarshal(raw, &st); err != nil || len(st.Pairs) != 1 || st.Pairs[0].Decision == nil {
		return "", fmt.Errorf("status of pair %s: not a status answer", pair)
	}
	d := st.Pairs[0].Decision
	fmt.Fprintf(stdout, "pair %s is %s; approving what it says now:\n", pair, d.State)
	for _, r := range d.Reasons {
		fmt.Fprintf(stdout, "  - %s\n", r)
	}
	if d.ApprovalID != "" {
		fmt.Fprintf(stdout, "  request %s, pending until %s\n", d.ApprovalID, d.ApprovalExpiresAt.Format(time.RFC3339))
	}
	return d.ApprovalID, nil
}

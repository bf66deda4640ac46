package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/drwatch/drwatch/internal/app"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/drill"
	"github.com/drwatch/drwatch/internal/policy"
)

const drillUsage = `usage:
  drwatch drill --config FILE --name NAME [--json]    run a drill now; exit 0 when it passes, 1 when not
  drwatch drill list --config FILE                    the drills and their last results
  drwatch drill show --config FILE --name NAME [--id ID] [--json]   a drill's report (default: the latest)
  drwatch drill release --config FILE --pair PAIR [--reason R]       take a pair back from a failover drill
                                                      that cannot finish its restore
`

// drillCmd is `drwatch drill`: run a drill now (in this process, or - when
// a daemon owns the state_dir - through the daemon's API, so that one
// process acts on a pair), list the drills, or show a report.
func drillCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "list":
			return drillList(args[1:], stdout, stderr)
		case "show":
			return drillShow(args[1:], stdout, stderr)
		case "release":
			return drillRelease(args[1:], stdout, stderr)
		case "help", "-h", "--help":
			fmt.Fprint(stdout, drillUsage)
			return ExitOK
		}
	}
	fs := newFlags("drill", stderr)
	path := fs.String("config", "", "config file")
	name := fs.String("name", "", "the drill to run")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cfg, rc := parseAndLoad(fs, args, path)
	if rc >= 0 {
		return rc
	}
	d, ok := findDrill(cfg, *name)
	if !ok {
		fmt.Fprintf(stderr, "drwatch drill: no drill %q in %s (drills: %s)\n%s", *name, *path, strings.Join(drillNames(cfg), ", "), drillUsage)
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := runDrillHere(ctx, cfg, d, stderr)
	switch {
	case errors.Is(err, app.ErrStateDirLocked):
		fmt.Fprintf(stderr, "a drwatch daemon owns %s: running drill %s through it\n", cfg.StateDir, d.Name)
		rep, err = runDrillRemote(ctx, cfg, d.Name, stderr)
	case errors.Is(err, errHAManaged):
		fmt.Fprintf(stderr, "ha is enabled: running drill %s through the daemon (the lease holder runs it; a standby skips it and says why)\n", d.Name)
		rep, err = runDrillRemote(ctx, cfg, d.Name, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "drwatch drill: %v\n", err)
		return ExitFailure
	}
	printReport(stdout, rep, *asJSON)
	if rep.Result != drill.ResultPassed {
		return ExitFailure
	}
	return ExitOK
}

// errHAManaged: with ha, only a daemon holding the pair's lease acts for
// it; this process holds none, so it asks a daemon.
var errHAManaged = errors.New("ha is enabled: the daemons act for the pairs")

// runDrillHere runs the drill in this process, with the pair's journal
// (under the state_dir lock) and hooks, as the daemon would.
func runDrillHere(ctx context.Context, cfg *config.Config, d config.Drill, stderr io.Writer) (*drill.Report, error) {
	if cfg.HA.Enabled {
		return nil, errHAManaged // only the lease holder acts for the pair
	}
	log, _ := NewLogger("console", "warn", stderr)
	return app.RunDrillHere(ctx, cfg, d, who(), log, stderr)
}

// runDrillRemote asks the daemon to run the drill and waits for its
// report (the daemon's URL and token from the config).
func runDrillRemote(ctx context.Context, cfg *config.Config, name string, stderr io.Writer) (*drill.Report, error) {
	base := strings.TrimRight(daemonURL(cfg), "/")
	code, raw, err := postDaemon(ctx, cfg, "/api/v1/drills/"+name+"/run", map[string]string{"by": who()})
	if err != nil {
		return nil, err
	}
	var started struct {
		ID, Report, Error string
	}
	if err := json.Unmarshal(raw, &started); err != nil {
		return nil, fmt.Errorf("the daemon at %s answered HTTP %d, not JSON: %.200s", base, code, raw)
	}
	if code != http.StatusAccepted {
		return nil, fmt.Errorf("the daemon at %s refused: %s (HTTP %d)", base, started.Error, code)
	}
	fmt.Fprintf(stderr, "drill %s started on the daemon (report %s); waiting for it\n", name, started.ID)
	for {
		rep, err := getReport(ctx, base+started.Report)
		if err == nil && rep.Result != drill.ResultRunning {
			return rep, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stopped waiting (the drill goes on in the daemon): %s/reports/%s", base+"/api/v1/drills/"+name, started.ID)
		case <-time.After(time.Second):
		}
	}
}

func getReport(ctx context.Context, url string) (*drill.Report, error) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var rep drill.Report
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// daemonURL is how this host reaches the daemon of cfg: external_url, or
// its listen address (a wildcard host is asked on loopback).
func daemonURL(cfg *config.Config) string {
	if cfg.ExternalURL != "" {
		return cfg.ExternalURL
	}
	addr := cfg.ListenAddress
	if strings.HasPrefix(addr, ":") || strings.HasPrefix(addr, "0.0.0.0:") || strings.HasPrefix(addr, "[::]:") {
		addr = "127.0.0.1" + addr[strings.LastIndex(addr, ":"):]
	}
	return "http://" + addr
}

func drillList(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("drill list", stderr)
	path := fs.String("config", "", "config file")
	cfg, rc := parseAndLoad(fs, args, path)
	if rc >= 0 {
		return rc
	}
	if len(cfg.Drills) == 0 {
		fmt.Fprintf(stdout, "%s has no drills\n", *path)
		return ExitOK
	}
	st := drill.NewStore(cfg.StateDir)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DRILL\tPAIR\tTYPE\tSCHEDULE\tLAST RUN\tRESULT\tLAST PASSED")
	for _, d := range cfg.Drills {
		last, passed := "never", "never"
		result := "-"
		if r, err := st.Load(d.Name, ""); err == nil {
			last, result = r.Started.UTC().Format(time.RFC3339), r.Result
		}
		if r, err := st.LastSuccess(d.Name); err == nil && r != nil {
			passed = r.Finished.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, d.Pair, d.Type, d.Schedule.Spec, last, result, passed)
	}
	_ = tw.Flush()
	return ExitOK
}

func drillShow(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("drill show", stderr)
	path := fs.String("config", "", "config file")
	name := fs.String("name", "", "the drill")
	id := fs.String("id", "", "the report id (default: the latest)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cfg, rc := parseAndLoad(fs, args, path)
	if rc >= 0 {
		return rc
	}
	if _, ok := findDrill(cfg, *name); !ok {
		fmt.Fprintf(stderr, "drwatch drill show: no drill %q in %s (drills: %s)\n", *name, *path, strings.Join(drillNames(cfg), ", "))
		return ExitUsage
	}
	rep, err := drill.NewStore(cfg.StateDir).Load(*name, *id)
	if err != nil {
		fmt.Fprintf(stderr, "drwatch drill show: %v\n", err)
		return ExitFailure
	}
	printReport(stdout, rep, *asJSON)
	return ExitOK
}

func printReport(w io.Writer, rep *drill.Report, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return
	}
	fmt.Fprint(w, rep.Summary())
}

func findDrill(cfg *config.Config, name string) (config.Drill, bool) {
	for _, d := range cfg.Drills {
		if d.Name == name {
			return d, true
		}
	}
	return config.Drill{}, false
}

func drillNames(cfg *config.Config) []string {
	var out []string
	for _, d := range cfg.Drills {
		out = append(out, d.Name)
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

// drillRelease is `drwatch drill release`: a human takes a pair back from
// a failover drill that cannot finish its restore (policy.DrillReleased),
// in this process or through the daemon's API.
func drillRelease(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("drill release", stderr)
	path := fs.String("config", "", "config file")
	pair := fs.String("pair", "", "the pair a failover drill owns")
	reason := fs.String("reason", "", "why (journaled)")
	cfg, rc := parseAndLoad(fs, args, path)
	if rc >= 0 {
		return rc
	}
	p, ok := cfg.Pair(*pair)
	if !ok {
		fmt.Fprintf(stderr, "drwatch drill release: no pair %q in %s\n", *pair, *path)
		return ExitUsage
	}
	c := policy.Command{Action: policy.ActRelease, By: who(), Reason: *reason}
	log, _ := NewLogger("console", "warn", stderr)
	if cfg.HA.Enabled { // the lease holder owns the pair's state
		fmt.Fprintf(stderr, "ha is enabled: releasing pair %s through the daemon\n", p.Name)
		return releaseRemote(cfg, p.Name, c, stdout, stderr)
	}
	w, closeAll, err := app.HandWatcher(cfg, p, log)
	if errors.Is(err, app.ErrStateDirLocked) {
		fmt.Fprintf(stderr, "a drwatch daemon owns %s: releasing pair %s through it\n", cfg.StateDir, p.Name)
		return releaseRemote(cfg, p.Name, c, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "drwatch drill release: %v\n", err)
		return ExitFailure
	}
	defer closeAll()
	st, err := w.Command(c)
	if err != nil {
		fmt.Fprintf(stderr, "drwatch drill release: %v\n", err)
		return ExitFailure
	}
	fmt.Fprintf(stdout, "pair %s: %s\n", p.Name, st.Phase)
	for _, r := range st.Reasons {
		fmt.Fprintf(stdout, "  - %s\n", r)
	}
	return ExitOK
}

func releaseRemote(cfg *config.Config, pair string, c policy.Command, stdout, stderr io.Writer) int {
	code, raw, err := postDaemon(context.Background(), cfg, "/api/v1/pairs/"+pair+"/release", map[string]string{"by": c.By, "reason": c.Reason})
	if err != nil {
		fmt.Fprintf(stderr, "drwatch drill release: %v\n", err)
		return ExitFailure
	}
	var out struct {
		State   string   `json:"state"`
		Reasons []string `json:"reasons"`
		Error   string   `json:"error"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		fmt.Fprintf(stderr, "drwatch drill release: HTTP %d, not JSON: %.200s\n", code, raw)
		return ExitFailure
	}
	if code == http.StatusAccepted { // ha: queued for the lease holder
		fmt.Fprintf(stdout, "pair %s: %s\n", pair, out.Error)
		return ExitOK
	}
	if code != http.StatusOK {
		fmt.Fprintf(stderr, "drwatch drill release: %s (HTTP %d)\n", out.Error, code)
		return ExitFailure
	}
	fmt.Fprintf(stdout, "pair %s: %s\n", pair, out.State)
	for _, r := range out.Reasons {
		fmt.Fprintf(stdout, "  - %s\n", r)
	}
	return ExitOK
}

// postDaemon sends a JSON body to the daemon of cfg (its URL and API
// token from the config) and returns the answer's status and body.
func postDaemon(ctx context.Context, cfg *config.Config, path string, body any) (int, []byte, error) {
	if !cfg.API.Token.IsSet() {
		return 0, nil, errors.New("the daemon's mutating API needs api.token_file in the config")
	}
	base := strings.TrimRight(daemonURL(cfg), "/")
	b, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+cfg.API.Token.Reveal())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("asking the daemon at %s: %w", base, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, raw, nil
}

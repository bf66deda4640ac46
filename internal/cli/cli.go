// Package cli implements drwatch's subcommands: flag parsing, output and
// exit codes. The work itself lives in the other packages.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/drwatch/drwatch/internal/app"
	"github.com/drwatch/drwatch/internal/buildinfo"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/report"
)

// Exit codes.
const (
	ExitOK       = 0
	ExitFailure  = 1 // bad config, failed command
	ExitUsage    = 2 // bad flags or arguments
	ExitDegraded = 3 // status: some pair shows a problem
)

const usage = `drwatch - disaster-recovery daemon for OpenSearch cross-cluster replication

Usage:
  drwatch run    --config FILE [--log-format json|console] [--log-level info]
  drwatch check  --config FILE
  drwatch status --config FILE [--json]
  drwatch promote --config FILE --pair NAME [--graceful] [--dry-run] [--yes] [--reason R]
  drwatch approve|deny|resume --server URL --pair NAME [--reason R] [--token-file F]
  drwatch pause --server URL --pair NAME [--for 2h] [--reason R] [--token-file F]
  drwatch history --config FILE [--pair NAME] [--json]
  drwatch replay --config FILE [--state-dir DIR] [--pair NAME] [--from T] [--to T] [--json]
  drwatch hooks test --config FILE [--hook NAME] [--pair NAME]
  drwatch drill --config FILE --name NAME [--json]
  drwatch drill list --config FILE
  drwatch drill show --config FILE --name NAME [--id ID] [--json]
  drwatch aiven discover --project P [--json]
  drwatch aiven follow --config FILE --pair NAME [--yes] [--dry-run] [--timeout 5m] [--json]
  drwatch version

The API token for approve/deny/pause/resume comes from --token-file or
$DRWATCH_API_TOKEN. aiven discover reads $AIVEN_TOKEN and $AIVEN_WEB_URL;
aiven follow uses the pair's aiven block.

Run "drwatch COMMAND -h" for a command's flags.
`

// Main runs drwatch with args (without the program name) and returns the
// exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	return MainIO(args, os.Stdin, stdout, stderr)
}

// MainIO is Main with standard input (for confirmations).
func MainIO(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return runCmd(rest, stderr)
	case "check":
		return checkCmd(rest, stdout, stderr)
	case "status":
		return statusCmd(rest, stdout, stderr)
	case "promote":
		return promoteCmd(rest, stdin, stdout, stderr)
	case "history":
		return historyCmd(rest, stdout, stderr)
	case "replay":
		return replayCmd(rest, stdout, stderr)
	case "hooks":
		return hooksCmd(rest, stdout, stderr)
	case "drill":
		return drillCmd(rest, stdout, stderr)
	case "aiven":
		return aivenCmd(rest, stdin, stdout, stderr)
	case "approve", "deny", "pause", "resume":
		return remoteCmd(cmd, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "drwatch %s (revision %s, %s)\n", buildinfo.Version, buildinfo.Revision, buildinfo.GoVersion())
		return ExitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	default:
		fmt.Fprintf(stderr, "drwatch: unknown command %q\n\n%s", cmd, usage)
		return ExitUsage
	}
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("drwatch "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses flags and rejects positional arguments.
func parse(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return ExitUsage
	}
	return -1
}

func requireConfig(fs *flag.FlagSet, path string) int {
	if path == "" {
		fmt.Fprintf(fs.Output(), "%s: --config FILE is required\n", fs.Name())
		return ExitUsage
	}
	return -1
}

// parseAndLoad parses the flags, requires --config and loads it. A
// non-negative code means: exit with it (the problem was printed).
func parseAndLoad(fs *flag.FlagSet, args []string, path *string) (*config.Config, int) {
	if rc := parse(fs, args); rc >= 0 {
		return nil, rc
	}
	if rc := requireConfig(fs, *path); rc >= 0 {
		return nil, rc
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(fs.Output(), "%s: invalid config:\n%s\n", *path, indent(err.Error()))
		return nil, ExitFailure
	}
	return cfg, -1
}

func checkCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", stderr)
	path := fs.String("config", "", "config file")
	cfg, rc := parseAndLoad(fs, args, path)
	if rc >= 0 {
		return rc
	}
	fmt.Fprintf(stdout, "%s: OK (%d pairs, %d policies, %d hooks, %d drills)\n", *path, len(cfg.Pairs), len(cfg.Policies), len(cfg.Hooks), len(cfg.Drills))
	for _, w := range cfg.NotYetActive() {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	return ExitOK
}

func statusCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("status", stderr)
	path := fs.String("config", "", "config file")
	asJSON := fs.Bool("json", false, "print JSON")
	cfg, rc := parseAndLoad(fs, args, path)
	if rc >= 0 {
		return rc
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := app.StatusOnce(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "drwatch status: %v\n", err)
		return ExitFailure
	}
	if *asJSON {
		err = report.JSON(stdout, st)
	} else {
		err = report.Text(stdout, st)
	}
	if err != nil {
		fmt.Fprintf(stderr, "drwatch status: %v\n", err)
		return ExitFailure
	}
	for _, p := range st.Pairs {
		if len(p.Problems) > 0 {
			return ExitDegraded
		}
	}
	return ExitOK
}

func runCmd(args []string, stderr io.Writer) int {
	fs := newFlags("run", stderr)
	path := fs.String("config", "", "config file")
	format := fs.String("log-format", "json", "log format: json or console")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if rc := parse(fs, args); rc >= 0 {
		return rc
	}
	if rc := requireConfig(fs, *path); rc >= 0 {
		return rc
	}
	log, err := NewLogger(*format, *level, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "drwatch run: %v\n", err)
		return ExitUsage
	}
	defer func() { _ = log.Sync() }()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	reload := make(chan struct{}, 1)
	go func() {
		stopping := false
		for s := range sigs {
			switch {
			case s == syscall.SIGHUP:
				select {
				case reload <- struct{}{}:
				default: // a reload is already pending
				}
			case stopping:
				log.Warn("second signal: exiting now")
				_ = log.Sync()
				os.Exit(ExitFailure)
			default:
				stopping = true
				log.Info("signal received, shutting down", zap.String("signal", s.String()))
				cancel()
			}
		}
	}()

	if err := app.Run(ctx, app.Options{ConfigPath: *path, Logger: log, Reload: reload, ShutdownTimeout: 10 * time.Second}); err != nil {
		log.Error("drwatch stopped", zap.Error(err))
		return ExitFailure
	}
	return ExitOK
}

// NewLogger builds the zap logger for a format and level.
func NewLogger(format, level string, w io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	switch format {
	case "json":
		enc = zapcore.NewJSONEncoder(encCfg)
	case "console":
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	default:
		return nil, fmt.Errorf("--log-format must be json or console, not %q", format)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), lvl)), nil
}

func indent(s string) string {
	out := "  "
	for _, r := range s {
		out += string(r)
		if r == '\n' {
			out += "  "
		}
	}
	return out
}

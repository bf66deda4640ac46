package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/drwatch/drwatch/internal/app"
	"github.com/drwatch/drwatch/internal/config"
)

// hooksCmd is `drwatch hooks test --config F [--hook NAME] [--pair P]`:
// it sends a clearly marked test event to the hooks, now, and says what
// each receiver answered. An exec hook runs only when --hook names it: it
// may act whatever the event says. An incident receiver (PagerDuty, Opsgenie,
// Alertmanager) gets the test's trigger and then its resolve, so that no
// test incident stays open.
func hooksCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprintln(stderr, "usage: drwatch hooks test --config FILE [--hook NAME] [--pair NAME]")
		return ExitUsage
	}
	fs := newFlags("hooks test", stderr)
	path := fs.String("config", "", "config file")
	name := fs.String("hook", "", "the hook to test (default: every hook)")
	pair := fs.String("pair", "", "the pair the test event names (default: the first pair)")
	cfg, rc := parseAndLoad(fs, args[1:], path)
	if rc >= 0 {
		return rc
	}
	if len(cfg.Hooks) == 0 {
		fmt.Fprintf(stderr, "drwatch hooks test: %s has no hooks\n", *path)
		return ExitFailure
	}
	if *name != "" && !hasHook(cfg, *name) {
		fmt.Fprintf(stderr, "drwatch hooks test: no hook %q in %s (hooks: %s)\n", *name, *path, strings.Join(hookNames(cfg), ", "))
		return ExitUsage
	}
	if *pair == "" {
		*pair = cfg.Pairs[0].Name
	} else if _, ok := cfg.Pair(*pair); !ok {
		fmt.Fprintf(stderr, "drwatch hooks test: no pair %q in %s\n", *pair, *path)
		return ExitUsage
	}
	log, err := NewLogger("console", "warn", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "drwatch hooks test: %v\n", err)
		return ExitFailure
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failed, err := app.TestHooks(ctx, cfg, *name, *pair, log, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "drwatch hooks test: %v\n", err)
		return ExitFailure
	}
	if failed > 0 {
		return ExitFailure
	}
	return ExitOK
}

func hasHook(cfg *config.Config, name string) bool {
	for _, h := range cfg.Hooks {
		if h.Name == name {
			return true
		}
	}
	return false
}

func hookNames(cfg *config.Config) []string {
	out := make([]string, len(cfg.Hooks))
	for i, h := range cfg.Hooks {
		out[i] = h.Name
	}
	return out
}

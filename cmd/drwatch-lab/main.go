// Command drwatch-lab runs the two-cluster OpenSearch lab of
// internal/lab on 127.0.0.1 (`make lab-up`, `make lab-down`, and by hand):
// up, down, status, start-node, stop-node, kill, freeze, thaw, fetch,
// has-ccr-plugin, and capture, which records the replication plugin's
// answers for the unit tests' fakes. `drwatch-lab help` lists them;
// deploy/lab/README.md lists the environment variables.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/drwatch/drwatch/internal/lab"
)

const usage = `usage: drwatch-lab COMMAND
  fetch                          distribution (+ CCR plugin if obtainable) into LAB_CACHE
  up                             install, start both nodes, connect follower -> leader, sample data
  down                           stop both nodes and remove LAB_DIR (safe to repeat)
  status                         node state and the lab's values (exit 1 unless both nodes answer)
  start-node leader|follower     (re)start one node on its existing data dir
  stop-node  leader|follower     SIGCONT, SIGTERM, SIGKILL after LAB_STOP_TIMEOUT
  kill|freeze|thaw leader|follower  SIGKILL, SIGSTOP, SIGCONT the node's process group
  has-ccr-plugin                 exit 0 when a CCR plugin zip is available (after fetch)
  capture [-out DIR]             record the replication plugin's answers (internal/testutil/fakeos/testdata/lab)
See deploy/lab/README.md for the environment variables.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1], os.Args[2:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, cmd string, args []string) int {
	switch cmd {
	case "-h", "--help", "help":
		fmt.Print(usage)
		return 0
	}
	wd, err := os.Getwd()
	if err != nil {
		return fail(err)
	}
	repo, err := lab.FindRepo(wd)
	if err != nil {
		return fail(err)
	}
	cfg, err := lab.FromEnv(repo, os.Getenv)
	if err != nil {
		return fail(err)
	}
	if cmd == "has-ccr-plugin" {
		ok, err := cfg.HasCCRPlugin()
		if err != nil {
			return fail(err)
		}
		if !ok {
			return 1
		}
		return 0
	}
	l, err := lab.Open(cfg, os.Stderr)
	if err != nil {
		return fail(err)
	}
	node := func() (lab.Node, error) {
		if len(args) != 1 {
			return "", fmt.Errorf("%s needs one node: leader or follower", cmd)
		}
		return lab.ParseNode(args[0])
	}
	switch cmd {
	case "fetch":
		_, err = l.Fetch(ctx)
	case "up":
		var env lab.Env
		if env, err = l.Up(ctx); err == nil {
			fmt.Println(strings.Join(env.Lines(), "\n"))
		}
	case "down":
		err = l.Down(ctx)
	case "status":
		if !l.Status(ctx, os.Stdout) {
			return 1
		}
	case "start-node", "stop-node", "kill", "freeze", "thaw":
		var n lab.Node
		if n, err = node(); err != nil {
			break
		}
		err = nodeCmd(ctx, l, cmd, n)
	case "capture":
		fs := flag.NewFlagSet("capture", flag.ContinueOnError)
		out := fs.String("out", "internal/testutil/fakeos/testdata/lab", "directory for the recorded answers")
		if err = fs.Parse(args); err != nil {
			return 2
		}
		err = capture(ctx, l, repo, *out)
	default:
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	if err != nil {
		return fail(err)
	}
	return 0
}

func nodeCmd(ctx context.Context, l *lab.Lab, cmd string, n lab.Node) error {
	var pid int
	var err error
	switch cmd {
	case "start-node":
		return l.StartNode(ctx, n)
	case "stop-node":
		return l.StopNode(ctx, n)
	case "kill":
		pid, err = l.Kill(n)
	case "freeze":
		pid, err = l.Freeze(n)
	case "thaw":
		pid, err = l.Thaw(n)
	}
	if err == nil {
		fmt.Fprintf(os.Stderr, "%s: %s pid %d\n", cmd, n, pid)
	}
	return err
}

func fail(err error) int {
	if errors.Is(err, lab.ErrNoPlugin) {
		fmt.Fprintf(os.Stderr, "drwatch-lab: %v (see deploy/lab/README.md)\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "drwatch-lab: ERROR: %v\n", err)
	return 1
}

package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
)

// ExitTemporary is the exit status (EX_TEMPFAIL) with which an exec hook
// asks to be run again later; any other non-zero status is final.
const ExitTemporary = 75

// maxOutput is how much of an exec hook's output is kept (its end).
const maxOutput = 8 << 10

// execHook runs a command per event: the event as JSON on stdin and as
// DRWATCH_* environment variables. Its environment is only those, PATH,
// HOME, LANG and TZ: the daemon's own (which may hold password_env
// secrets) is not passed on. On its timeout the command's whole process
// group is killed.
type execHook struct {
	name string
	argv []string
	log  *zap.Logger
}

func newExec(h *config.Hook, d Deps) (Hook, error) {
	if len(h.Command) == 0 {
		return nil, fmt.Errorf("hooks[%s]: command is empty", h.Name)
	}
	return &execHook{name: h.Name, argv: slices.Clone(h.Command), log: d.Log}, nil
}

func (x *execHook) Name() string { return x.name }

// Deliver runs the command. Exit 0 is delivered; a timeout and exit 75
// are retried; any other failure is final.
func (x *execHook) Deliver(ctx context.Context, ev Event) error {
	res := x.run(ctx, ev, false)
	switch {
	case res.err == nil:
		return nil
	case res.timedOut:
		return Temporary(res.err, 0)
	case res.exit == ExitTemporary:
		return Temporary(res.err, 0)
	}
	return Permanent(res.err)
}

// Veto runs the command for a promotion about to start: exit 0 lets it
// run; anything else - a non-zero exit, a timeout, a command that cannot
// start - vetoes it, with the last line of its output as the reason.
func (x *execHook) Veto(ctx context.Context, ev Event) error {
	res := x.run(ctx, ev, true)
	if res.err == nil {
		return nil
	}
	reason := res.err.Error()
	if line := lastLine(res.output); line != "" && !res.timedOut && res.exit > 0 {
		reason = fmt.Sprintf("%s (exit status %d)", line, res.exit)
	}
	return &VetoError{Hook: x.name, Reason: reason}
}

type execResult struct {
	exit     int // -1: did not exit (not started, killed)
	timedOut bool
	output   string
	err      error
}

func (x *execHook) run(ctx context.Context, ev Event, veto bool) execResult {
	body, err := json.Marshal(ev)
	if err != nil {
		return execResult{exit: -1, err: fmt.Errorf("encoding the event: %w", err)}
	}
	cmd := exec.CommandContext(ctx, x.argv[0], x.argv[1:]...)
	cmd.Stdin = bytes.NewReader(body)
	out := &tail{max: maxOutput}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = env(ev, veto)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start)
	res := execResult{exit: -1, output: out.String()}
	if cmd.ProcessState != nil {
		res.exit = cmd.ProcessState.ExitCode()
	}
	fields := []zap.Field{zap.String("event", ev.Event), zap.String("pair", ev.Pair), zap.Int("exit", res.exit),
		zap.Duration("took", took), zap.String("output", res.output)}
	switch {
	case err == nil:
		x.log.Info("exec hook ran", fields...)
		return res
	case errors.Is(err, exec.ErrWaitDelay) && res.exit == 0:
		// It exited 0; a child it left in the background still holds its
		// output. Its answer is yes; the child's output is not kept.
		x.log.Info("exec hook ran (it exited 0 and left a background process holding its output)", fields...)
		return execResult{exit: 0, output: res.output}
	case ctx.Err() != nil:
		res.timedOut = true
		dl, _ := ctx.Deadline()
		res.err = fmt.Errorf("timed out after %s (its process group was killed)", took.Round(time.Millisecond))
		if dl.IsZero() {
			res.err = errors.New("canceled (its process group was killed)")
		}
	case res.exit > 0:
		res.err = fmt.Errorf("exited with status %d: %s", res.exit, orNone(lastLine(res.output)))
	default:
		res.err = fmt.Errorf("could not run %s: %w", x.argv[0], err)
	}
	x.log.Warn("exec hook failed", append(fields, zap.String("error", res.err.Error()))...)
	return res
}

// env is the command's environment: DRWATCH_<KEY> for every detail of
// the event, DRWATCH_VETO=1 when it is asked to vet a promotion, and the
// few variables a program needs to run.
func env(ev Event, veto bool) []string {
	var e []string
	for _, k := range []string{"PATH", "HOME", "LANG", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			e = append(e, k+"="+v)
		}
	}
	for k, v := range ev.Details() {
		e = append(e, "DRWATCH_"+strings.ToUpper(k)+"="+v)
	}
	if veto {
		e = append(e, "DRWATCH_VETO=1")
	}
	slices.Sort(e)
	return e
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func orNone(s string) string {
	if s == "" {
		return "(no output)"
	}
	return s
}

// tail keeps the last max bytes written to it.
type tail struct {
	max int
	buf []byte
	cut bool
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = slices.Clone(t.buf[len(t.buf)-t.max:])
		t.cut = true
	}
	return len(p), nil
}

func (t *tail) String() string {
	if t.cut {
		return "..." + string(t.buf)
	}
	return string(t.buf)
}

package watch

import (
	"context"

	"github.com/drwatch/drwatch/internal/acting"
)

// The role's calls as the watcher makes them, for the tests that run a
// daemon's cycle one part at a time.

func (w *Watcher) takeHA(ctx context.Context) bool { return w.role.Begin(ctx, rolePair{w}) }

func (w *Watcher) adopt(ctx context.Context, term int64) error {
	return w.role.(*acting.HA).Adopt(ctx, rolePair{w}, term)
}

func (w *Watcher) publish(ctx context.Context) error { return w.role.Publish(ctx, rolePair{w}) }

func (w *Watcher) acting() (int64, bool) {
	term, err := w.role.Acting()
	return term, err == nil
}

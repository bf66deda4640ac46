// Package api is drwatch's HTTP interface: /metrics, the health and
// readiness probes, /-/reload, the status API, the pair commands
// (approve, deny, pause, resume, promote) behind a bearer token, and the
// status page at / with its forms. It turns requests into calls on the
// daemon and answers; every rule it applies is policy's (commands,
// policy.Promotable), every effect the watcher's.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/drill"
	"github.com/drwatch/drwatch/internal/report"
	"github.com/drwatch/drwatch/internal/watch"
)

// Daemon is what the API serves.
type Daemon interface {
	// Status is every watched pair's status.
	Status() report.Status
	// Ready reports whether every pair has been observed once.
	Ready() bool
	// Reload loads the config file again (ErrReloadBusy: refused for now).
	Reload(ctx context.Context) error
	// Token is the bearer token of the mutating API (unset: disabled).
	Token() config.Secret
	// ExternalURL is external_url from the config ("" when unset): the
	// status page's commands name it instead of the address it was
	// asked at.
	ExternalURL() string
	// Watcher is the watcher of the named pair (nil: no such pair).
	Watcher(name string) *watch.Watcher
	// Drills runs the config's drills and keeps their reports.
	Drills() *drill.Runner
}

// ErrReloadBusy is a reload refused because a promotion is running: 409.
var ErrReloadBusy = errors.New("reload refused")

type server struct {
	d   Daemon
	log *zap.Logger
}

// Handler serves the API of d, and reg's metrics on /metrics.
func Handler(d Daemon, reg *prometheus.Registry, log *zap.Logger) http.Handler {
	a := &server{d: d, log: log}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "drwatch is healthy\n")
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !a.d.Ready() {
			writeText(w, http.StatusServiceUnavailable, "not ready: waiting for the first probe of every pair\n")
			return
		}
		writeText(w, http.StatusOK, "drwatch is ready\n")
	})
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
		if err := a.d.Reload(r.Context()); err != nil {
			a.log.Error("config reload rejected; the previous config keeps running", zap.Error(err))
			code := http.StatusBadRequest
			if errors.Is(err, ErrReloadBusy) {
				code = http.StatusConflict
			}
			writeJSON(w, code, map[string]string{"status": "rejected", "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
	})
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, a.d.Status())
	})
	mux.HandleFunc("GET /api/v1/status/{pair}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("pair")
		st := a.d.Status()
		for _, ps := range st.Pairs {
			if ps.Name == name {
				writeJSON(w, http.StatusOK, report.Status{Time: st.Time, Pairs: []report.PairStatus{ps}})
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown pair " + name})
	})
	mux.HandleFunc("POST /api/v1/pairs/{pair}/{action}", a.pairAction)
	a.drillRoutes(mux)
	mux.HandleFunc("GET /{$}", a.statusPage)
	mux.HandleFunc("POST /ui/pairs/{pair}/{action}", a.pageAction)
	return mux
}

func writeText(w http.ResponseWriter, code int, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(s))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

package app

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/report"
)

func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.Reg, promhttp.HandlerOpts{Registry: a.metrics.Reg}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "drwatch is healthy\n")
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready() {
			writeText(w, http.StatusServiceUnavailable, "not ready: waiting for the first probe of every pair\n")
			return
		}
		writeText(w, http.StatusOK, "drwatch is ready\n")
	})
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
		if err := a.requestReload(r.Context()); err != nil {
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
		writeJSON(w, http.StatusOK, a.status())
	})
	mux.HandleFunc("GET /api/v1/status/{pair}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("pair")
		st := a.status()
		for _, ps := range st.Pairs {
			if ps.Name == name {
				writeJSON(w, http.StatusOK, report.Status{Time: st.Time, Pairs: []report.PairStatus{ps}})
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown pair " + name})
	})
	mux.HandleFunc("POST /api/v1/pairs/{pair}/{action}", a.pairAction)
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

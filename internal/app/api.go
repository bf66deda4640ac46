package app

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/policy"
)

// actionRequest is the JSON body of POST /api/v1/pairs/{pair}/{action}.
// Every field is optional.
type actionRequest struct {
	// ID names the approval request an approve answers (the pending
	// one's, shown by GET /api/v1/status as decision.approval_id).
	ID     string `json:"id"`
	Reason string `json:"reason"`
	For    string `json:"for"` // pause only: how long, e.g. "2h" (default 1h)
	By     string `json:"by"`  // who is acting; default "api@<client address>"
}

// DefaultPauseFor is how long a pause lasts when no "for" is given: a
// forgotten pause must not disable failover for good.
const DefaultPauseFor = time.Hour

// MaxPauseFor bounds a pause.
const MaxPauseFor = 7 * 24 * time.Hour

type actionResponse struct {
	Pair    string   `json:"pair"`
	Action  string   `json:"action"`
	State   string   `json:"state"`
	Reasons []string `json:"reasons,omitempty"`
	Error   string   `json:"error,omitempty"`
}

func (a *App) authorized(w http.ResponseWriter, r *http.Request) bool {
	a.mu.RLock()
	tok := a.cfg.API.Token
	a.mu.RUnlock()
	if !tok.IsSet() {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "the mutating API is disabled: set api.token_file in the config"})
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(tok.Reveal())) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="drwatch"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
		return false
	}
	return true
}

func (a *App) pairAction(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(w, r) {
		return
	}
	name, action := r.PathValue("pair"), r.PathValue("action")
	resp := actionResponse{Pair: name, Action: action}
	var req actionRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err == nil && len(strings.TrimSpace(string(body))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		err = dec.Decode(&req)
	}
	if err != nil {
		resp.Error = "bad request body (want JSON like {\"reason\": \"...\"}): " + err.Error()
		writeJSON(w, http.StatusBadRequest, resp)
		return
	}
	if req.By == "" {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		req.By = "api@" + host
	}
	var f func(policy.State, time.Time) (policy.Decision, error)
	switch action {
	case "approve":
		f = func(s policy.State, now time.Time) (policy.Decision, error) {
			return policy.Approve(s, req.ID, req.By, req.Reason, now)
		}
	case "deny":
		f = func(s policy.State, now time.Time) (policy.Decision, error) {
			return policy.Deny(s, req.By, req.Reason, now)
		}
	case "promote":
		f = func(s policy.State, now time.Time) (policy.Decision, error) {
			return policy.ManualPromote(s, req.By, req.Reason, now)
		}
	case "resume":
		f = func(s policy.State, now time.Time) (policy.Decision, error) { return policy.Resume(s, req.By, now) }
	case "pause":
		d := DefaultPauseFor
		if req.For != "" {
			d, err = time.ParseDuration(req.For)
			if err != nil || d <= 0 || d > MaxPauseFor {
				resp.Error = "\"for\" must be a duration between 1s and " + MaxPauseFor.String() + ", such as 2h"
				writeJSON(w, http.StatusBadRequest, resp)
				return
			}
		}
		f = func(s policy.State, now time.Time) (policy.Decision, error) {
			return policy.Pause(s, now.Add(d), req.By, req.Reason, now)
		}
	default:
		resp.Error = "unknown action " + action + " (approve, deny, pause, resume, promote)"
		writeJSON(w, http.StatusNotFound, resp)
		return
	}
	wt := a.watcher(name)
	if wt == nil {
		resp.Error = "unknown pair " + name
		writeJSON(w, http.StatusNotFound, resp)
		return
	}
	if wt.pair.Aiven != nil && (action == "approve" || action == "promote") {
		resp.Error = "pair " + name + " is an Aiven pair: promotion through the Aiven API (deleting the CCR integration) is not built yet; promote it in Aiven"
		resp.State = string(wt.phase())
		writeJSON(w, http.StatusConflict, resp)
		return
	}
	if wt.pair.Resolved.Mode == config.ModeDryRun && (action == "approve" || action == "promote") {
		resp.Error = "pair " + name + " is in dry-run mode: drwatch writes nothing to the clusters (change the policy's mode, or use drwatch promote)"
		resp.State = string(wt.phase())
		writeJSON(w, http.StatusConflict, resp)
		return
	}
	st, err := wt.command(f, req.By)
	resp.State, resp.Reasons = string(st.Phase), st.Reasons
	switch {
	case errors.Is(err, policy.ErrConflict):
		resp.Error = err.Error()
		writeJSON(w, http.StatusConflict, resp)
	case err != nil:
		resp.Error = err.Error()
		writeJSON(w, http.StatusInternalServerError, resp)
	default:
		a.log.Warn("api command", zap.String("pair", name), zap.String("action", action), zap.String("by", req.By), zap.String("reason", req.Reason))
		writeJSON(w, http.StatusOK, resp)
	}
}

func (a *App) watcher(name string) *watcher {
	a.mu.RLock()
	defer a.mu.RUnlock()
	for _, w := range a.watchers {
		if w.pair.Name == name {
			return w
		}
	}
	return nil
}

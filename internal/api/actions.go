package api

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

type actionResponse struct {
	Pair    string   `json:"pair"`
	Action  string   `json:"action"`
	State   string   `json:"state"`
	Reasons []string `json:"reasons,omitempty"`
	Error   string   `json:"error,omitempty"`
}

func (a *server) authorized(w http.ResponseWriter, r *http.Request) bool {
	tok := a.d.Token()
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

func (a *server) pairAction(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(w, r) {
		return
	}
	name, action := r.PathValue("pair"), r.PathValue("action")
	resp := actionResponse{Pair: name, Action: action}
	req, err := readRequest(r)
	if err != nil {
		resp.Error = "bad request body (want JSON like {\"reason\": \"...\"}): " + err.Error()
		writeJSON(w, http.StatusBadRequest, resp)
		return
	}
	f, code, err := command(action, req)
	if err != nil {
		resp.Error = err.Error()
		writeJSON(w, code, resp)
		return
	}
	wt := a.d.Watcher(name)
	if wt == nil {
		resp.Error = "unknown pair " + name
		writeJSON(w, http.StatusNotFound, resp)
		return
	}
	if action == "approve" || action == "promote" {
		if err := policy.Promotable(wt.Pair(), policy.ByDaemon); err != nil {
			resp.Error, resp.State = err.Error(), string(wt.Phase())
			writeJSON(w, http.StatusConflict, resp)
			return
		}
	}
	st, err := wt.Command(f, req.By)
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

// readRequest reads an action's JSON body (empty: every field default).
// By defaults to "api@<client address>".
func readRequest(r *http.Request) (actionRequest, error) {
	var req actionRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err == nil && len(strings.TrimSpace(string(body))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		err = dec.Decode(&req)
	}
	if req.By == "" {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		req.By = "api@" + host
	}
	return req, err
}

// command is the policy command an action runs, or why the request is
// refused (with its HTTP status).
func command(action string, req actionRequest) (func(policy.State, time.Time) (policy.Decision, error), int, error) {
	switch action {
	case "approve":
		return func(s policy.State, now time.Time) (policy.Decision, error) {
			return policy.Approve(s, req.ID, req.By, req.Reason, now)
		}, 0, nil
	case "deny":
		return func(s policy.State, now time.Time) (policy.Decision, error) {
			return policy.Deny(s, req.By, req.Reason, now)
		}, 0, nil
	case "promote":
		return func(s policy.State, now time.Time) (policy.Decision, error) {
			return policy.ManualPromote(s, req.By, req.Reason, now)
		}, 0, nil
	case "resume":
		return func(s policy.State, now time.Time) (policy.Decision, error) { return policy.Resume(s, req.By, now) }, 0, nil
	case "pause":
		d := policy.DefaultPauseFor
		if req.For != "" {
			var err error
			d, err = time.ParseDuration(req.For)
			if err != nil || d <= 0 || d > policy.MaxPauseFor {
				return nil, http.StatusBadRequest, errors.New("\"for\" must be a duration between 1s and " + policy.MaxPauseFor.String() + ", such as 2h")
			}
		}
		return func(s policy.State, now time.Time) (policy.Decision, error) {
			return policy.Pause(s, now.Add(d), req.By, req.Reason, now)
		}, 0, nil
	}
	return nil, http.StatusNotFound, errors.New("unknown action " + action + " (approve, deny, pause, resume, promote)")
}

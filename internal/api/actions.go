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

	"github.com/drwatch/drwatch/internal/acting"
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

// Why a request's token is refused.
var (
	errActionsOff = errors.New("the mutating API is disabled: set api.token_file in the config")
	errBadToken   = errors.New("missing or wrong bearer token")
)

// checkToken compares a request's token with api.token_file's, in
// constant time: nil when it is the configured one, errActionsOff (403)
// when none is configured, errBadToken (401) otherwise. The JSON API and
// the status page's forms both ask it.
func (a *server) checkToken(got string) (int, error) {
	tok := a.d.Token()
	if !tok.IsSet() {
		return http.StatusForbidden, errActionsOff
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(tok.Reveal())) != 1 {
		return http.StatusUnauthorized, errBadToken
	}
	return http.StatusOK, nil
}

func (a *server) authorized(w http.ResponseWriter, r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		got = "" // never equal to a configured token
	}
	code, err := a.checkToken(got)
	if err == nil {
		return true
	}
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="drwatch"`)
	}
	writeJSON(w, code, map[string]string{"error": err.Error()})
	return false
}

func (a *server) pairAction(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(w, r) {
		return
	}
	name, action := r.PathValue("pair"), r.PathValue("action")
	req, err := readRequest(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, actionResponse{Pair: name, Action: action,
			Error: "bad request body (want JSON like {\"reason\": \"...\"}): " + err.Error()})
		return
	}
	resp, code := a.run(name, action, req, "api")
	writeJSON(w, code, resp)
}

// run is a human's command on a pair, for the JSON API and the status
// page alike: the policy command of the action, refused where
// policy.Promotable refuses it, applied by the pair's watcher. It answers
// the pair's state after the command (or the state that refused it) and
// the HTTP status. via names the door it came through, for the log.
func (a *server) run(name, action string, req actionRequest, via string) (actionResponse, int) {
	resp := actionResponse{Pair: name, Action: action}
	c, code, err := command(action, req)
	if err != nil {
		resp.Error = err.Error()
		return resp, code
	}
	wt := a.d.Watcher(name)
	if wt == nil {
		resp.Error = "unknown pair " + name
		return resp, http.StatusNotFound
	}
	if action == "approve" || action == "promote" {
		if err := policy.Promotable(wt.Pair(), policy.ByDaemon); err != nil {
			resp.Error, resp.State = err.Error(), string(wt.Phase())
			return resp, http.StatusConflict
		}
	}
	st, err := wt.Command(c)
	resp.State, resp.Reasons = st.Phase.String(), st.Reasons
	switch {
	case errors.Is(err, policy.ErrConflict):
		resp.Error = err.Error()
		return resp, http.StatusConflict
	case errors.Is(err, acting.ErrQueued):
		// ha: recorded in the pair's inbox, not yet applied and shared;
		// whichever daemon holds the lease applies it.
		resp.Error = err.Error()
		return resp, http.StatusAccepted
	case errors.Is(err, acting.ErrStandby), errors.Is(err, acting.ErrUnshared):
		resp.Error = err.Error()
		return resp, http.StatusServiceUnavailable
	case err != nil:
		resp.Error = err.Error()
		return resp, http.StatusInternalServerError
	}
	a.log.Warn("api command", zap.String("pair", name), zap.String("action", action), zap.String("by", req.By),
		zap.String("reason", req.Reason), zap.String("via", via))
	return resp, http.StatusOK
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
func command(action string, req actionRequest) (policy.Command, int, error) {
	c := policy.Command{Action: action, By: req.By, Reason: req.Reason}
	switch action {
	case policy.ActApprove:
		c.ID = req.ID
		return c, 0, nil
	case policy.ActDeny, policy.ActPromote, policy.ActResume, policy.ActRelease:
		return c, 0, nil
	case policy.ActPause:
		c.For = policy.DefaultPauseFor
		if req.For != "" {
			d, err := time.ParseDuration(req.For)
			if err != nil || d <= 0 || d > policy.MaxPauseFor {
				return c, http.StatusBadRequest, errors.New("\"for\" must be a duration between 1s and " + policy.MaxPauseFor.String() + ", such as 2h")
			}
			c.For = d
		}
		return c, 0, nil
	}
	return c, http.StatusNotFound, errors.New("unknown action " + action + " (approve, deny, pause, resume, promote, release)")
}

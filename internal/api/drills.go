package api

import (
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/drill"
)

// drillInfo is one configured drill in GET /api/v1/drills.
type drillInfo struct {
	Name     string        `json:"name"`
	Pair     string        `json:"pair"`
	Type     string        `json:"type"`
	Schedule string        `json:"schedule"`
	Last     *drill.Report `json:"last,omitempty"`
}

func (a *server) drillRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/drills", a.listDrills)
	mux.HandleFunc("GET /api/v1/drills/{drill}/reports", a.drillReports)
	mux.HandleFunc("GET /api/v1/drills/{drill}/reports/{id}", a.drillReport)
	mux.HandleFunc("POST /api/v1/drills/{drill}/run", a.runDrill)
}

func (a *server) listDrills(w http.ResponseWriter, _ *http.Request) {
	r := a.d.Drills()
	out := []drillInfo{}
	for _, d := range r.Drills() {
		info := drillInfo{Name: d.Name, Pair: d.Pair, Type: d.Type, Schedule: d.Schedule.Spec}
		if last, err := r.Store.Load(d.Name, ""); err == nil {
			info.Last = last
		}
		out = append(out, info)
	}
	writeJSON(w, http.StatusOK, map[string]any{"drills": out})
}

func (a *server) known(w http.ResponseWriter, name string) bool {
	for _, d := range a.d.Drills().Drills() {
		if d.Name == name {
			return true
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown drill " + name})
	return false
}

func (a *server) drillReports(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("drill")
	if !a.known(w, name) {
		return
	}
	ids, err := a.d.Drills().Store.IDs(name)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	if ids == nil {
		ids = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"drill": name, "reports": ids})
}

// drillReport answers a report by id ("latest": the newest).
func (a *server) drillReport(w http.ResponseWriter, r *http.Request) {
	name, id := r.PathValue("drill"), r.PathValue("id")
	if !a.known(w, name) {
		return
	}
	if id == "latest" {
		id = ""
	}
	rep, err := a.d.Drills().Store.Load(name, id)
	if err != nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// runDrill starts a drill now: 202 with its report's id; the report is
// at GET /api/v1/drills/{drill}/reports/{id} (result "running" until it
// ends).
func (a *server) runDrill(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(w, r) {
		return
	}
	name := r.PathValue("drill")
	req, err := readRequest(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad request body (want JSON like {\"by\": \"...\"}): " + err.Error()})
		return
	}
	by := req.By // readRequest defaults it to api@<client address>
	id, err := a.d.Drills().Trigger(name, by)
	switch {
	case errors.Is(err, drill.ErrUnknownDrill):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	case err != nil:
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
		return
	}
	a.log.Info("drill run on request", zap.String("drill", name), zap.String("by", by), zap.String("id", id))
	writeJSON(w, http.StatusAccepted, map[string]string{
		"drill": name, "id": id, "report": "/api/v1/drills/" + name + "/reports/" + id,
		"started": time.Now().UTC().Format(time.RFC3339),
	})
}

package server

import (
	"encoding/json"
	"net/http"
)

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// serverError logs the cause (scrubbed) and tells the client only that it failed.
func (a *API) serverError(w http.ResponseWriter, r *http.Request, err error) {
	a.Log.Error("request failed", "path", r.URL.Path, "error", a.Redact(err.Error()))
	writeError(w, http.StatusInternalServerError, "internal error")
}

package oci

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/wharfhq/wharf/internal/access"
	"github.com/wharfhq/wharf/internal/registry"
)

// statusOf maps registry error codes to HTTP statuses as the distribution
// spec assigns them.
func statusOf(c registry.Code) int {
	switch c {
	case registry.CodeBlobUnknown, registry.CodeBlobUploadUnknown, registry.CodeManifestUnknown, registry.CodeNameUnknown,
		registry.CodeImageArchived:
		return http.StatusNotFound
	case registry.CodeRangeInvalid:
		return http.StatusRequestedRangeNotSatisfiable
	case registry.CodeUnauthorized:
		return http.StatusUnauthorized
	case registry.CodeDenied, registry.CodePlatformMismatch:
		return http.StatusForbidden
	case registry.CodeUnsupported:
		return http.StatusMethodNotAllowed
	case registry.CodeTooManyRequests:
		return http.StatusTooManyRequests
	case registry.CodeManifestTooLarge:
		return http.StatusRequestEntityTooLarge
	case registry.CodeManifestReferenced, registry.CodeTagMoved:
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

// wireCode is the code sent to clients; internal refinements fold into the
// spec's codes.
func wireCode(c registry.Code) registry.Code {
	switch c {
	case registry.CodeManifestTooLarge:
		return registry.CodeManifestInvalid
	case registry.CodeRangeInvalid:
		return registry.CodeBlobUploadInvalid
	case registry.CodeManifestReferenced, registry.CodePlatformMismatch:
		return registry.CodeDenied
	case registry.CodeTagMoved:
		return registry.CodeTagInvalid
	case registry.CodeImageArchived:
		// As ECR: a pull of an archived image is "not found" (404); the
		// message says it is archived and how to restore it.
		return registry.CodeManifestUnknown
	}
	return c
}

type errorBody struct {
	Errors []errorItem `json:"errors"`
}

type errorItem struct {
	Code    registry.Code `json:"code"`
	Message string        `json:"message"`
	Detail  any           `json:"detail,omitempty"`
}

// writeError answers err in the spec's JSON error form. Unknown errors are
// logged and answered as 500 without detail, so internals never leak.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var re *registry.Error
	var de *access.DeniedError
	switch {
	case errors.As(err, &re):
	case errors.As(err, &de) && de.Gate:
		re = &registry.Error{Code: registry.CodeDenied, Message: de.Message}
	case errors.Is(err, access.ErrDenied):
		re = &registry.Error{Code: registry.CodeDenied, Message: "requested access to the resource is denied"}
	case errors.Is(err, access.ErrNoCredentials), errors.Is(err, access.ErrBadCredentials):
		re = &registry.Error{Code: registry.CodeUnauthorized, Message: "authentication required"}
	default:
		if r.Context().Err() == nil {
			h.logger().ErrorContext(r.Context(), "request failed", slog.String("path", r.URL.Path), slog.Any("err", err))
		}
		writeJSONError(w, http.StatusInternalServerError, errorItem{Code: "UNKNOWN", Message: "internal error"})
		return
	}
	status := statusOf(re.Code)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="wharf"`)
	}
	writeJSONError(w, status, errorItem{Code: wireCode(re.Code), Message: re.Message, Detail: re.Detail})
}

func writeJSONError(w http.ResponseWriter, status int, item errorItem) {
	body, _ := json.Marshal(errorBody{Errors: []errorItem{item}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", itoa(int64(len(body))))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

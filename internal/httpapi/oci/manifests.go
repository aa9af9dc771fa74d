package oci

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/wharfhq/wharf/internal/access"
	"github.com/wharfhq/wharf/internal/httpapi/middleware"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/names"
)

func (h *Handler) manifests(req *request) {
	w, r := req.w, req.r
	ref, err := names.ParseReference(req.ref)
	if err != nil {
		code := registry.CodeManifestInvalid
		if errors.Is(err, names.ErrDigest) {
			code = registry.CodeDigestInvalid
		} else if r.Method == http.MethodGet || r.Method == http.MethodHead {
			code = registry.CodeManifestUnknown
		}
		middleware.SetRoute(r.Context(), "manifest_bad_ref")
		h.writeError(w, r, &registry.Error{Code: code, Message: "invalid reference " + req.ref})
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		middleware.SetRoute(r.Context(), "manifest_get")
		m, repo, ok := h.pull(req, ref)
		if !ok {
			return
		}
		// The four values share one backing array: one allocation on the
		// pull path rather than one per header. Keys are canonical already.
		etag := `"` + m.Digest + `"`
		v := &[4]string{m.MediaType, itoa(m.Size), m.Digest, etag}
		hd := w.Header()
		hd["Content-Type"] = v[0:1:1]
		hd["Content-Length"] = v[1:2:2]
		hd["Docker-Content-Digest"] = v[2:3:3]
		hd["Etag"] = v[3:4:4]
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(m.Content)
			h.Registry.NotePull(repo, m.Digest, req.principal.String())
		}
	case http.MethodPut:
		middleware.SetRoute(r.Context(), "manifest_put")
		repo, ok := h.repo(req, true, access.ActionPutImage)
		if !ok {
			return
		}
		max := h.Registry.MaxManifestBytes()
		if r.ContentLength > max {
			h.writeError(w, r, &registry.Error{Code: registry.CodeManifestTooLarge, Message: "manifest too large"})
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
		if err != nil {
			h.writeError(w, r, &registry.Error{Code: registry.CodeManifestInvalid, Message: "reading body: " + err.Error()})
			return
		}
		if int64(len(body)) > max {
			h.writeError(w, r, &registry.Error{Code: registry.CodeManifestTooLarge, Message: "manifest too large"})
			return
		}
		override, _ := strconv.ParseBool(r.Header.Get(registry.PlatformOverrideHeader))
		res, err := h.Registry.PutManifestWith(r.Context(), repo, ref, r.Header.Get("Content-Type"), body, req.actor(),
			registry.PutOptions{PlatformOverride: override})
		if err != nil {
			var re *registry.Error
			if errors.As(err, &re) && re.Code == registry.CodePlatformMismatch {
				err = &registry.Error{Code: re.Code, Message: re.Message + "; " + registry.OverrideHint(repo.Name), Detail: re.Detail}
			}
			h.writeError(w, r, err)
			return
		}
		hd := w.Header()
		hd.Set("Location", "/v2/"+req.name+"/manifests/"+string(res.Digest))
		hd.Set("Docker-Content-Digest", string(res.Digest))
		if res.Subject != "" {
			hd.Set("OCI-Subject", string(res.Subject))
		}
		hd.Set("Content-Length", "0")
		w.WriteHeader(http.StatusCreated)
	case http.MethodDelete:
		middleware.SetRoute(r.Context(), "manifest_delete")
		repo, ok := h.repo(req, false, access.ActionBatchDeleteImage)
		if !ok {
			return
		}
		if err := h.Registry.DeleteManifest(r.Context(), repo, ref, req.actor()); err != nil {
			h.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
	default:
		middleware.SetRoute(r.Context(), "manifest_method")
		h.methodNotAllowed(w, r)
	}
}

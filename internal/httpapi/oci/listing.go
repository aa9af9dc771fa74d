package oci

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/wharfhq/wharf/internal/access"
	"github.com/wharfhq/wharf/internal/httpapi/middleware"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/names"
)

// maxPage bounds one page of tags or repositories when the client asks for
// more (or gives no n); the Link header carries on from there.
const maxPage = 100000

func (h *Handler) tags(req *request) {
	w, r := req.w, req.r
	middleware.SetRoute(r.Context(), "tags_list")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.methodNotAllowed(w, r)
		return
	}
	n, last, err := pageParams(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	repo, ok := h.repo(req, false, access.ActionListImages)
	if !ok {
		return
	}
	limit := n
	if limit < 0 || limit > maxPage {
		limit = maxPage
	}
	tags := []string{}
	if limit > 0 {
		if tags, err = h.Registry.Tags(r.Context(), repo, last, limit); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	if limit > 0 && len(tags) == limit {
		setNextLink(w, "/v2/"+req.name+"/tags/list", limit, tags[len(tags)-1])
	}
	writeJSON(w, r, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{req.name, tags})
}

func (h *Handler) catalog(req *request) {
	w, r := req.w, req.r
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.methodNotAllowed(w, r)
		return
	}
	n, last, err := pageParams(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	// The catalog lists the addressed account's repositories that the
	// caller may describe, and nothing to an anonymous caller.
	if req.principal.Anonymous && req.principal.AccountID == "" {
		h.writeError(w, r, access.ErrNoCredentials)
		return
	}
	limit := n
	if limit < 0 || limit > maxPage {
		limit = maxPage
	}
	var names []string
	if limit > 0 {
		if names, err = h.Registry.Catalog(r.Context(), req.account, last, limit); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	visible := []string{}
	for _, name := range names {
		if h.authorizeOn(req, name, access.ActionDescribeRepositories) == nil {
			visible = append(visible, name)
		}
	}
	// The next page starts after the last name read, visible or not.
	if limit > 0 && len(names) == limit {
		setNextLink(w, "/v2/_catalog", limit, names[len(names)-1])
	}
	writeJSON(w, r, struct {
		Repositories []string `json:"repositories"`
	}{visible})
}

func (h *Handler) referrers(req *request) {
	w, r := req.w, req.r
	middleware.SetRoute(r.Context(), "referrers")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.methodNotAllowed(w, r)
		return
	}
	d, err := names.ParseDigest(req.ref)
	if err != nil {
		h.writeError(w, r, digestError(req.ref))
		return
	}
	if err := h.authorize(req, access.ActionBatchGetImage); err != nil {
		h.writeError(w, r, err)
		return
	}
	at := r.URL.Query().Get("artifactType")
	// A repository that does not exist has no referrers: the spec answers
	// an empty index rather than an error.
	var body []byte
	repo, err := h.Registry.Repository(r.Context(), req.account, req.name, false)
	if registry.CodeOf(err) == registry.CodeNameUnknown {
		body, err = registry.EmptyReferrers(), nil
	} else if err == nil {
		body, err = h.Registry.Referrers(r.Context(), repo, d, at)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if at != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
	w.Header().Set("Content-Length", itoa(int64(len(body))))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

func setNextLink(w http.ResponseWriter, path string, n int, last string) {
	q := url.Values{"n": {itoa(int64(n))}, "last": {last}}
	w.Header().Set("Link", "<"+path+"?"+q.Encode()+`>; rel="next"`)
}

func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", itoa(int64(len(body))))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

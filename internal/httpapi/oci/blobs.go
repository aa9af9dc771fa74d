package oci

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/access"
	"github.com/wharfhq/wharf/internal/httpapi/middleware"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/store/meta"
)

func digestError(s string) error {
	return &registry.Error{Code: registry.CodeDigestInvalid, Message: "invalid digest " + strconv.Quote(s)}
}

func (h *Handler) blobs(req *request) {
	w, r := req.w, req.r
	d, err := names.ParseDigest(req.ref)
	if err != nil {
		middleware.SetRoute(r.Context(), "blob_bad_digest")
		h.writeError(w, r, digestError(req.ref))
		return
	}
	switch r.Method {
	case http.MethodHead:
		middleware.SetRoute(r.Context(), "blob_head")
		repo, ok := h.repo(req, false, access.ActionGetDownloadURLForLayer)
		if !ok {
			return
		}
		info, err := h.Registry.StatBlob(r.Context(), repo, d)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		hd := w.Header()
		hd.Set("Content-Length", itoa(info.Size))
		hd.Set("Content-Type", "application/octet-stream")
		hd.Set("Docker-Content-Digest", string(d))
		hd.Set("Accept-Ranges", "bytes")
		hd.Set("Etag", `"`+string(d)+`"`)
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		middleware.SetRoute(r.Context(), "blob_get")
		repo, ok := h.repo(req, false, access.ActionGetDownloadURLForLayer)
		if !ok {
			return
		}
		if h.BlobRedirect && h.redirectBlob(req, repo, d) {
			return
		}
		rd, _, err := h.Registry.OpenBlob(r.Context(), repo, d)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		defer rd.Close()
		hd := w.Header()
		hd.Set("Content-Type", "application/octet-stream")
		hd.Set("Docker-Content-Digest", string(d))
		hd.Set("Etag", `"`+string(d)+`"`)
		hd.Set("Cache-Control", "max-age=31536000")
		// ServeContent handles Range (206/416) and, for files, sendfile.
		http.ServeContent(w, r, "", time.Time{}, rd)
	case http.MethodDelete:
		middleware.SetRoute(r.Context(), "blob_delete")
		repo, ok := h.repo(req, false, access.ActionBatchDeleteImage)
		if !ok {
			return
		}
		if err := h.Registry.DeleteBlob(r.Context(), repo, d); err != nil {
			h.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
	default:
		middleware.SetRoute(r.Context(), "blob_method")
		h.methodNotAllowed(w, r)
	}
}

// redirectBlob answers a blob GET with a redirect to the blob store, as ECR
// does with its layer URLs; Range headers go along with the client. It
// reports false, having written nothing, when the store cannot redirect.
func (h *Handler) redirectBlob(req *request, repo meta.Repository, d digest.Digest) bool {
	w, r := req.w, req.r
	ttl := h.BlobRedirectTTL
	if ttl <= 0 {
		ttl = DefaultBlobRedirectTTL
	}
	u, err := h.Registry.BlobURL(r.Context(), repo, d, ttl)
	if err != nil {
		h.writeError(w, r, err)
		return true
	}
	if u == "" {
		return false
	}
	middleware.SetRoute(r.Context(), "blob_redirect")
	hd := w.Header()
	hd.Set("Location", u)
	hd.Set("Docker-Content-Digest", string(d))
	hd.Set("Cache-Control", "no-store") // the URL expires
	hd.Set("Content-Length", "0")
	w.WriteHeader(http.StatusTemporaryRedirect)
	return true
}

var pushActions = []string{access.ActionInitiateLayerUpload, access.ActionUploadLayerPart, access.ActionCompleteLayerUpload}

func (h *Handler) uploads(req *request) {
	w, r := req.w, req.r
	if req.ref == "" {
		if r.Method != http.MethodPost {
			middleware.SetRoute(r.Context(), "upload_method")
			h.methodNotAllowed(w, r)
			return
		}
		middleware.SetRoute(r.Context(), "upload_start")
		h.startUpload(req)
		return
	}
	switch r.Method {
	case http.MethodGet:
		middleware.SetRoute(r.Context(), "upload_status")
		repo, ok := h.repo(req, false, pushActions...)
		if !ok {
			return
		}
		u, err := h.Registry.UploadStatus(r.Context(), repo, req.ref)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		h.uploadAccepted(req, u, http.StatusNoContent)
	case http.MethodPatch:
		middleware.SetRoute(r.Context(), "upload_patch")
		repo, ok := h.repo(req, false, pushActions...)
		if !ok {
			return
		}
		chunk, err := chunkOf(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		u, err := h.Registry.WriteUpload(r.Context(), repo, req.ref, chunk)
		if err != nil {
			h.uploadError(req, err)
			return
		}
		h.uploadAccepted(req, u, http.StatusAccepted)
	case http.MethodPut:
		middleware.SetRoute(r.Context(), "upload_finish")
		repo, ok := h.repo(req, false, pushActions...)
		if !ok {
			return
		}
		ds := r.URL.Query().Get("digest")
		d, err := names.ParseDigest(ds)
		if err != nil {
			h.writeError(w, r, digestError(ds))
			return
		}
		chunk, err := chunkOf(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if r.ContentLength == 0 {
			chunk.Body = nil
		}
		info, err := h.Registry.FinishUpload(r.Context(), repo, req.ref, d, chunk)
		if err != nil {
			h.uploadError(req, err)
			return
		}
		h.blobCreated(req, info.Digest)
	case http.MethodDelete:
		middleware.SetRoute(r.Context(), "upload_cancel")
		repo, ok := h.repo(req, false, pushActions...)
		if !ok {
			return
		}
		if err := h.Registry.CancelUpload(r.Context(), repo, req.ref); err != nil {
			h.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
	default:
		middleware.SetRoute(r.Context(), "upload_method")
		h.methodNotAllowed(w, r)
	}
}

func (h *Handler) startUpload(req *request) {
	w, r := req.w, req.r
	q := r.URL.Query()
	repo, ok := h.repo(req, true, pushActions...)
	if !ok {
		return
	}
	if mount := q.Get("mount"); mount != "" {
		if d, err := names.ParseDigest(mount); err == nil {
			from := q.Get("from")
			if from == "" {
				// Automatic mount: any repository of the account that the
				// caller may read and that holds the blob will do.
				from = h.mountSource(req, d)
			}
			if from != "" && names.ValidRepository(from) && h.tryMount(req, from, d) {
				return
			}
		}
		// Anything that cannot be mounted falls back to a plain upload.
	}
	if ds := q.Get("digest"); ds != "" {
		d, err := names.ParseDigest(ds)
		if err != nil {
			h.writeError(w, r, digestError(ds))
			return
		}
		info, err := h.Registry.PutBlob(r.Context(), repo, d, r.ContentLength, r.Body)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		h.blobCreated(req, info.Digest)
		return
	}
	u, err := h.Registry.StartUpload(r.Context(), repo)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.uploadAccepted(req, u, http.StatusAccepted)
}

// mountSource finds a repository of the addressed account that links the
// blob and that the caller may pull from, or "".
func (h *Handler) mountSource(req *request, d digest.Digest) string {
	repos, err := h.Registry.Meta().ReposLinking(req.r.Context(), req.account, string(d), 20)
	if err != nil {
		return ""
	}
	for _, r := range repos {
		if r.Name == req.name {
			continue
		}
		if h.authorizeOn(req, r.Name, access.ActionBatchGetImage) == nil {
			return r.Name
		}
	}
	return ""
}

// tryMount links a blob from another repository the caller may read.
func (h *Handler) tryMount(req *request, from string, d digest.Digest) bool {
	ctx := req.r.Context()
	if h.authorizeOn(req, from, access.ActionBatchGetImage, access.ActionGetDownloadURLForLayer) != nil {
		return false
	}
	src, err := h.Registry.Repository(ctx, req.account, from, false)
	if err != nil {
		return false
	}
	dst, err := h.Registry.Repository(ctx, req.account, req.name, false)
	if err != nil {
		return false
	}
	info, ok, err := h.Registry.MountBlob(ctx, src, dst, d)
	if err != nil || !ok {
		return false
	}
	h.blobCreated(req, info.Digest)
	return true
}

func (h *Handler) blobCreated(req *request, d digest.Digest) {
	hd := req.w.Header()
	hd.Set("Location", "/v2/"+req.name+"/blobs/"+string(d))
	hd.Set("Docker-Content-Digest", string(d))
	hd.Set("Content-Length", "0")
	req.w.WriteHeader(http.StatusCreated)
}

func (h *Handler) uploadAccepted(req *request, u registry.Upload, status int) {
	hd := req.w.Header()
	hd.Set("Location", "/v2/"+req.name+"/blobs/uploads/"+u.ID)
	hd.Set("Docker-Upload-UUID", u.ID)
	hd.Set("Range", rangeHeader(u.Offset))
	hd.Set("OCI-Chunk-Min-Length", "0")
	hd.Set("Content-Length", "0")
	req.w.WriteHeader(status)
}

// uploadError answers a failed chunk; a range mismatch tells the client
// where the upload stands so it can resume.
func (h *Handler) uploadError(req *request, err error) {
	var re *registry.Error
	if errors.As(err, &re) && re.Code == registry.CodeRangeInvalid {
		if off, ok := re.Detail.(int64); ok {
			hd := req.w.Header()
			hd.Set("Location", "/v2/"+req.name+"/blobs/uploads/"+req.ref)
			hd.Set("Range", rangeHeader(off))
			hd.Set("Docker-Upload-UUID", req.ref)
			re = &registry.Error{Code: re.Code, Message: re.Message}
			err = re
		}
	}
	h.writeError(req.w, req.r, err)
}

func rangeHeader(offset int64) string {
	if offset <= 0 {
		return "0-0"
	}
	return "0-" + itoa(offset-1)
}

// chunkOf reads Content-Range ("start-end", with or without a "bytes"
// prefix) and Content-Length of a PATCH or PUT.
func chunkOf(r *http.Request) (registry.Chunk, error) {
	c := registry.Chunk{Start: -1, Length: r.ContentLength, Body: r.Body}
	cr := strings.TrimSpace(r.Header.Get("Content-Range"))
	if cr == "" {
		return c, nil
	}
	cr = strings.TrimPrefix(strings.TrimPrefix(cr, "bytes="), "bytes ")
	if i := strings.IndexByte(cr, '/'); i >= 0 {
		cr = cr[:i]
	}
	a, b, ok := strings.Cut(cr, "-")
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || start < 0 || end < start {
		return c, &registry.Error{Code: registry.CodeRangeInvalid, Message: "invalid Content-Range " + strconv.Quote(r.Header.Get("Content-Range"))}
	}
	n := end - start + 1
	if c.Length >= 0 && c.Length != n {
		return c, &registry.Error{Code: registry.CodeRangeInvalid, Message: "Content-Range and Content-Length disagree"}
	}
	c.Start, c.Length = start, n
	return c, nil
}

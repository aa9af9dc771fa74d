package ecr

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
	"github.com/wharfhq/wharf/internal/httpapi/middleware"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/names"
)

// GetDownloadUrlForLayer answers a short-lived URL of this server,
// /layer-download/<token>, standing in for ECR's pre-signed S3 URL. The
// token names the account, repository, digest and expiry and is signed
// with the pagination key, so any node with the same key serves it; the
// URL is the authorization, as a pre-signed URL is.

// LayerDownloadPath is where LayerDownloadHandler is to be mounted.
const LayerDownloadPath = "/layer-download/"

// layerURLTTL is how long a download URL stays valid.
const layerURLTTL = 10 * time.Minute

// layerGrantContext separates these signatures from pagination tokens,
// which are signed with the same key.
const layerGrantContext = "wharf/ecr/layer-download/v1\x00"

// layerGrant is what a download token allows.
type layerGrant struct {
	Account string `json:"a"`
	Repo    string `json:"r"`
	Digest  string `json:"d"`
	Expires int64  `json:"e"` // unix seconds
}

func (s *Server) signLayerGrant(payload []byte) []byte {
	mac := hmac.New(sha256.New, s.Pager.Key)
	mac.Write([]byte(layerGrantContext))
	mac.Write(payload)
	return mac.Sum(nil)
}

// layerToken returns base64url(JSON(grant)) "." base64url(HMAC).
func (s *Server) layerToken(g layerGrant) string {
	payload, _ := json.Marshal(g)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(s.signLayerGrant(payload))
}

// verifyLayerToken returns the grant of a token this server signed that
// has not expired.
func (s *Server) verifyLayerToken(tok string) (layerGrant, bool) {
	if len(s.Pager.Key) == 0 || len(tok) > 4096 {
		return layerGrant{}, false
	}
	p, m, ok := strings.Cut(tok, ".")
	if !ok {
		return layerGrant{}, false
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	sum, err2 := enc.DecodeString(m)
	if err1 != nil || err2 != nil || !hmac.Equal(sum, s.signLayerGrant(payload)) {
		return layerGrant{}, false
	}
	var g layerGrant
	if json.Unmarshal(payload, &g) != nil || !s.now().Before(time.Unix(g.Expires, 0)) {
		return layerGrant{}, false
	}
	return g, true
}

// GetDownloadUrlForLayer returns a download URL of a layer of the
// repository.
func (s *Server) GetDownloadUrlForLayer(ctx context.Context, in *ecrapi.GetDownloadUrlForLayerInput) (*ecrapi.GetDownloadUrlForLayerOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:GetDownloadUrlForLayer")
	if err != nil {
		return nil, err
	}
	ld := ecrapi.Deref(in.LayerDigest)
	d, err := names.ParseDigest(ld)
	if err != nil {
		return nil, ecrapi.NewInvalidParameterException("Invalid parameter at 'layerDigest' failed to satisfy constraint: 'Invalid request parameters: layer digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+''")
	}
	_, err = s.Registry.StatBlob(ctx, r, d)
	if registry.CodeOf(err) == registry.CodeBlobUnknown {
		return nil, ecrapi.NewLayersNotFoundException("The layer with digest '" + ld + "' does not exist in the repository with name '" + r.Name + "' in the registry with id '" + account + "'")
	}
	if err != nil {
		return nil, err
	}
	if len(s.Pager.Key) == 0 {
		return nil, ecrapi.NewServerException("layer download URLs need a signing key")
	}
	tok := s.layerToken(layerGrant{Account: account, Repo: r.Name, Digest: string(d), Expires: s.now().Add(layerURLTTL).Unix()})
	return &ecrapi.GetDownloadUrlForLayerOutput{
		DownloadUrl: ecrapi.Ptr(s.endpoint(ctx) + LayerDownloadPath + tok),
		LayerDigest: ecrapi.Ptr(string(d)),
	}, nil
}

// LayerDownloadHandler serves the URLs GetDownloadUrlForLayer returns
// (mount it at LayerDownloadPath): the blob, with ranges, for a token that
// verifies and has not expired (403 otherwise), while the repository still
// links the blob (404 otherwise).
func (s *Server) LayerDownloadHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		middleware.SetRoute(ctx, "layer_download")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		tok := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		g, ok := s.verifyLayerToken(tok)
		if !ok {
			http.Error(w, "invalid or expired download URL", http.StatusForbidden)
			return
		}
		repo, err := s.Registry.Repository(ctx, g.Account, g.Repo, false)
		if registry.CodeOf(err) == registry.CodeNameUnknown {
			http.Error(w, "repository not found", http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		rd, _, err := s.Registry.OpenBlob(ctx, repo, digest.Digest(g.Digest))
		if registry.CodeOf(err) == registry.CodeBlobUnknown {
			http.Error(w, "layer not found", http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		defer rd.Close()
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Docker-Content-Digest", g.Digest)
		h.Set("Etag", `"`+g.Digest+`"`)
		left := max(time.Unix(g.Expires, 0).Sub(s.now()), 0)
		h.Set("Cache-Control", "private, max-age="+strconv.Itoa(int(left/time.Second)))
		http.ServeContent(w, r, "", time.Time{}, rd)
	})
}

package ecr

import (
	"context"
	"net/url"

	"github.com/wharfhq/wharf/internal/access/token"
	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
)

// GetAuthorizationToken issues a registry token for `docker login -u AWS`,
// valid 12 hours, carrying the caller's identity: any node verifies it with
// the shared key, and /v2/ then authorizes its holder like the caller.
func (s *Server) GetAuthorizationToken(ctx context.Context, in *ecrapi.GetAuthorizationTokenInput) (*ecrapi.GetAuthorizationTokenOutput, error) {
	p := caller(ctx)
	if err := s.authorize(ctx, p.AccountID, "", "ecr:GetAuthorizationToken"); err != nil {
		return nil, err
	}
	tok, exp, err := s.Tokens.Issue(token.Claims{AccountID: p.AccountID, UserName: p.UserName, AccessKeyID: p.AccessKeyID}, token.DefaultTTL)
	if err != nil {
		return nil, err
	}
	data := ecrapi.AuthorizationData{
		AuthorizationToken: ecrapi.Ptr(token.EncodeAuthorizationToken(tok)),
		ExpiresAt:          awsjson.NewTimestamp(exp),
		ProxyEndpoint:      ecrapi.Ptr(s.endpoint(ctx)),
	}
	// The deprecated registryIds member asks for one entry per registry;
	// the token is the same for all, as in ECR.
	n := max(1, len(in.RegistryIds))
	out := &ecrapi.GetAuthorizationTokenOutput{}
	for i := 0; i < n; i++ {
		out.AuthorizationData = append(out.AuthorizationData, data)
	}
	return out, nil
}

// endpoint is the registry's base URL for docker login.
func (s *Server) endpoint(ctx context.Context) string {
	scheme := "https"
	if r := awsjson.HTTPRequest(ctx); r != nil && r.TLS == nil {
		scheme = "http"
	}
	return (&url.URL{Scheme: scheme, Host: s.host(ctx)}).String()
}

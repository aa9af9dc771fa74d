// Package access authenticates requests and authorizes actions. It is the
// seam where ECR tokens, SigV4, IAM users and policies plug in: handlers
// only ask "who is this" and "may they do this".
package access

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Errors of authentication and authorization.
var (
	ErrNoCredentials  = errors.New("access: no credentials")
	ErrBadCredentials = errors.New("access: invalid credentials")
	ErrDenied         = errors.New("access: denied")
)

// Principal is an authenticated caller.
type Principal struct {
	AccountID   string
	UserName    string // "" for the account's root (admin) identity
	AccessKeyID string
	Anonymous   bool
}

// String names the principal for logs and history.
func (p Principal) String() string {
	switch {
	case p.Anonymous:
		return "anonymous"
	case p.UserName != "":
		return "arn:aws:iam::" + p.AccountID + ":user/" + p.UserName
	default:
		return "arn:aws:iam::" + p.AccountID + ":root"
	}
}

// Actions, named as ECR names them so one policy language covers /v2/ and
// the ECR API.
const (
	ActionBatchGetImage          = "ecr:BatchGetImage"
	ActionGetDownloadURLForLayer = "ecr:GetDownloadUrlForLayer"
	ActionInitiateLayerUpload    = "ecr:InitiateLayerUpload"
	ActionUploadLayerPart        = "ecr:UploadLayerPart"
	ActionCompleteLayerUpload    = "ecr:CompleteLayerUpload"
	ActionBatchCheckLayer        = "ecr:BatchCheckLayerAvailability"
	ActionPutImage               = "ecr:PutImage"
	ActionBatchDeleteImage       = "ecr:BatchDeleteImage"
	ActionListImages             = "ecr:ListImages"
	ActionDescribeRepositories   = "ecr:DescribeRepositories"
	ActionCreateRepository       = "ecr:CreateRepository"
)

// Resource is what an action is on: a repository, or the registry itself
// when Repository is empty.
type Resource struct {
	Region     string
	AccountID  string
	Repository string
}

// ARN returns the resource's ARN.
func (r Resource) ARN() string {
	if r.Repository == "" {
		return "arn:aws:ecr:" + r.Region + ":" + r.AccountID + ":registry"
	}
	return "arn:aws:ecr:" + r.Region + ":" + r.AccountID + ":repository/" + r.Repository
}

// Authenticator identifies the caller of a request.
type Authenticator interface {
	// Authenticate returns ErrNoCredentials when the request carries none
	// and ErrBadCredentials when they do not verify.
	Authenticate(r *http.Request) (Principal, error)
}

// Authorizer decides whether a principal may perform an action.
type Authorizer interface {
	Authorize(ctx context.Context, p Principal, action string, res Resource) error
}

// AccountAuthorizer is the first-cut authorizer: a principal has full
// access to its own account's registry and none to other accounts. The
// policy engine replaces it.
type AccountAuthorizer struct{}

// Authorize implements Authorizer.
func (AccountAuthorizer) Authorize(_ context.Context, p Principal, _ string, res Resource) error {
	if p.Anonymous || p.AccountID == res.AccountID {
		return nil
	}
	return ErrDenied
}

// Anonymous authenticates every request as an anonymous principal of the
// default account. Development only (--anonymous).
type Anonymous struct{ AccountID string }

// Authenticate implements Authenticator.
func (a Anonymous) Authenticate(*http.Request) (Principal, error) {
	return Principal{AccountID: a.AccountID, Anonymous: true}, nil
}

// KeyStore is where access keys live.
type KeyStore interface {
	GetAccessKey(ctx context.Context, id string) (meta.AccessKey, error)
}

// BasicKeys authenticates HTTP Basic credentials made of an access key id
// and its secret. Verified keys are cached briefly so the hot path costs a
// map lookup and a constant-time compare, not a database round trip.
type BasicKeys struct {
	Keys KeyStore
	TTL  time.Duration // cache lifetime of a looked-up key (default 30s)
	Now  func() time.Time

	mu    sync.RWMutex
	cache map[string]cachedKey
}

type cachedKey struct {
	key     meta.AccessKey
	expires time.Time
}

// Authenticate implements Authenticator.
func (b *BasicKeys) Authenticate(r *http.Request) (Principal, error) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		return Principal{}, ErrNoCredentials
	}
	k, err := b.lookup(r.Context(), id)
	if err != nil {
		return Principal{}, err
	}
	if !k.Active || subtle.ConstantTimeCompare([]byte(secret), []byte(k.Secret)) != 1 {
		return Principal{}, ErrBadCredentials
	}
	return Principal{AccountID: k.AccountID, UserName: k.UserName, AccessKeyID: k.AccessKeyID}, nil
}

func (b *BasicKeys) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *BasicKeys) lookup(ctx context.Context, id string) (meta.AccessKey, error) {
	b.mu.RLock()
	c, ok := b.cache[id]
	b.mu.RUnlock()
	if ok && b.now().Before(c.expires) {
		return c.key, nil
	}
	k, err := b.Keys.GetAccessKey(ctx, id)
	if errors.Is(err, meta.ErrNotFound) {
		return meta.AccessKey{}, ErrBadCredentials
	}
	if err != nil {
		return meta.AccessKey{}, err
	}
	ttl := b.TTL
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	b.mu.Lock()
	if b.cache == nil || len(b.cache) > 10000 {
		b.cache = map[string]cachedKey{}
	}
	b.cache[id] = cachedKey{key: k, expires: b.now().Add(ttl)}
	b.mu.Unlock()
	return k, nil
}

package access

import (
	"context"
	"crypto/sha256"
	"strconv"
	"sync"
	"time"

	"github.com/wharfhq/wharf/internal/policy"
)

// PolicySource supplies the policy documents that govern a request. An
// empty document means none.
type PolicySource interface {
	// IdentityPolicies returns the documents attached to an IAM user.
	IdentityPolicies(ctx context.Context, accountID, userName string) ([]string, error)
	// RepositoryPolicy returns a repository's policy document.
	RepositoryPolicy(ctx context.Context, accountID, repository string) (string, error)
	// RegistryPolicy returns an account's registry policy document.
	RegistryPolicy(ctx context.Context, accountID string) (string, error)
	// ResourceTags returns the tags of a resource, by ARN (for the
	// ecr:ResourceTag/<key> condition keys).
	ResourceTags(ctx context.Context, arn string) (map[string]string, error)
}

// DeniedError explains a denial (for logs and for the caller's message).
type DeniedError struct {
	Action, Resource, Reason string
	// Gate is set when a pull gate denied the request: a Deny statement
	// reading the image's wharf: keys, without which the caller would have
	// been allowed. Message then says why, for the caller (the blocking
	// findings); callers that are denied anyway never see it.
	Gate    bool
	Message string
}

func (e *DeniedError) Error() string {
	return "not authorized to perform " + e.Action + " on " + e.Resource + ": " + e.Reason
}

// Unwrap makes errors.Is(err, ErrDenied) true.
func (e *DeniedError) Unwrap() error { return ErrDenied }

type requestContextKey struct{}
type requestInfoKey struct{}

// WithRequestContext attaches extra condition keys (for example
// ecr:ResourceTag/... or wharf:* keys) that conditions may test.
func WithRequestContext(ctx context.Context, c policy.Context) context.Context {
	return context.WithValue(ctx, requestContextKey{}, c)
}

// RequestInfo are facts about the HTTP request that become the condition
// keys aws:SourceIp and aws:SecureTransport.
type RequestInfo struct {
	SourceIP string
	Secure   bool
}

// WithRequestInfo attaches request facts; they are turned into condition
// keys only when a policy is actually evaluated.
func WithRequestInfo(ctx context.Context, ri RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, ri)
}

// PolicyAuthorizer authorizes with IAM policies as AWS does: explicit Deny
// wins; same-account access needs an Allow in an identity or resource
// policy; cross-account access needs both. An account's root identity has
// every permission in its own account (only a resource policy's explicit
// Deny stops it) and, across accounts, acts as if its identity policy
// allowed everything, as in AWS.
type PolicyAuthorizer struct {
	Source PolicySource
	Now    func() time.Time

	cache sync.Map // sha256 of document -> *policy.Policy
}

var allowAll = func() *policy.Policy {
	p, err := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`))
	if err != nil {
		panic(err)
	}
	return p
}()

// parse returns the compiled policy of a document, parsing each distinct
// document once.
func (a *PolicyAuthorizer) parse(doc string) (*policy.Policy, error) {
	if doc == "" {
		return nil, nil
	}
	key := sha256.Sum256([]byte(doc))
	if p, ok := a.cache.Load(key); ok {
		return p.(*policy.Policy), nil
	}
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		return nil, err
	}
	a.cache.Store(key, p)
	return p, nil
}

// Authorize implements Authorizer.
func (a *PolicyAuthorizer) Authorize(ctx context.Context, p Principal, action string, res Resource) error {
	return a.authorize(ctx, p, action, res, nil, false)
}

// policies are the documents that govern one request.
type policies struct {
	identity, resource []*policy.Policy
	repo, registry     *policy.Policy // the resource policies, or nil
}

// authorize decides a request; for a pull (see AuthorizeImage), img
// supplies the image keys, and pull without img asks for one when needed. The policy lists are built here, in one
// function, so that they stay on the stack: the hot path allocates none.
func (a *PolicyAuthorizer) authorize(ctx context.Context, p Principal, action string, res Resource, img Image, pull bool) error {
	// Local variables, not struct fields: the compiler keeps small
	// appended slices of locals on the stack.
	var identity, resource []*policy.Policy
	var repoPol, regPol *policy.Policy
	root := !p.Anonymous && p.UserName == ""
	switch {
	case p.Anonymous:
	case root:
		identity = []*policy.Policy{allowAll}
	default:
		docs, err := a.Source.IdentityPolicies(ctx, p.AccountID, p.UserName)
		if err != nil {
			return err
		}
		for _, d := range docs {
			pol, err := a.parse(d)
			if err != nil {
				continue // a stored policy was validated on the way in
			}
			identity = append(identity, pol)
		}
	}
	if res.Repository != "" {
		doc, err := a.Source.RepositoryPolicy(ctx, res.AccountID, res.Repository)
		if err != nil {
			return err
		}
		if pol, err := a.parse(doc); err == nil && pol != nil {
			repoPol = pol
			resource = append(resource, pol)
		}
	}
	doc, err := a.Source.RegistryPolicy(ctx, res.AccountID)
	if err != nil {
		return err
	}
	if pol, err := a.parse(doc); err == nil && pol != nil {
		regPol = pol
		resource = append(resource, pol)
	}

	// The account root acting in its own account is allowed unless a
	// resource policy applies (only an explicit Deny there could stop it):
	// the common case costs no evaluation.
	if root && p.AccountID == res.AccountID && len(resource) == 0 {
		return nil
	}
	req := policy.Request{
		Principal:       policy.Principal{AccountID: p.AccountID, Anonymous: p.Anonymous},
		Action:          action,
		Resource:        res.ARN(),
		ResourceAccount: res.AccountID,
		Context:         a.context(ctx),
	}
	if res.Repository != "" {
		tags, err := a.Source.ResourceTags(ctx, req.Resource)
		if err != nil {
			return err
		}
		for k, v := range tags {
			req.Context.Set("ecr:ResourceTag/"+k, v)
		}
	}
	if !p.Anonymous {
		req.Principal.ARN = p.String()
	}
	gated := pull && (readImageKeys(identity) || readImageKeys(resource))
	if gated && img == nil {
		return ErrImageNeeded
	}
	if gated {
		keys, err := img.Keys(ctx)
		if err != nil {
			return err
		}
		for k, v := range keys {
			req.Context.Set(k, v...)
		}
	}
	d := policy.Authorize(req, identity, resource)
	if d.Allowed {
		return nil
	}
	denied := &DeniedError{Action: action, Resource: res.ARN(), Reason: d.Reason}
	if gated {
		ps := policies{identity: identity, resource: resource, repo: repoPol, registry: regPol}
		if msg, ok := explainGate(req, ps, d, img); ok {
			denied.Message, denied.Gate = msg, true
		}
	}
	return denied
}

func (a *PolicyAuthorizer) context(ctx context.Context) policy.Context {
	c := policy.Context{}
	if rc, ok := ctx.Value(requestContextKey{}).(policy.Context); ok {
		for k, v := range rc {
			c[k] = v
		}
	}
	if ri, ok := ctx.Value(requestInfoKey{}).(RequestInfo); ok {
		if ri.SourceIP != "" {
			c.Set("aws:SourceIp", ri.SourceIP)
		}
		c.Set("aws:SecureTransport", strconv.FormatBool(ri.Secure))
	}
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	if _, ok := c.Get("aws:CurrentTime"); !ok {
		c.Set("aws:CurrentTime", now.UTC().Format(time.RFC3339))
		c.Set("aws:EpochTime", strconv.FormatInt(now.Unix(), 10))
	}
	return c
}

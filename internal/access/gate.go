package access

import (
	"context"
	"errors"
	"strconv"

	"github.com/wharfhq/wharf/internal/policy"
)

// imageKeyService is the prefix of the pull-gate condition keys
// (wharf:ScanStatus, wharf:ImageMaxSeverity, ...; see internal/scan/gate).
const imageKeyService = "wharf"

// Image is the image a pull is for: it supplies the pull-gate condition
// keys, and explains a denial by them. Keys is called at most once per
// authorization, and only when a policy that governs the request reads a
// wharf: key, so an ungated pull never looks the image's facts up.
type Image interface {
	// Keys returns the image's condition keys (nil when there is no such
	// image: its keys are absent).
	Keys(ctx context.Context) (policy.Context, error)
	// Explain says, for the caller, why the image is blocked by a denying
	// statement; holds reports whether the statement's conditions hold
	// for a variant of the image's keys (other keys as in the request).
	Explain(holds func(policy.Context) bool) string
}

// ErrImageNeeded is AuthorizeImage's answer, without an image, when a
// governing policy reads wharf: keys: the caller resolves the image and
// asks again with it. (So the common, ungated pull builds no Image.)
var ErrImageNeeded = errors.New("access: the image of the pull is needed to decide")

// ImageAuthorizer is an Authorizer that applies pull gates.
type ImageAuthorizer interface {
	Authorizer
	// AuthorizeImage is Authorize for a pull of img: the policies may
	// test its wharf: keys. A denial by a gate is a *DeniedError with
	// Gate set and a Message naming what blocks the image. With img nil
	// it answers ErrImageNeeded when the keys matter.
	AuthorizeImage(ctx context.Context, p Principal, action string, res Resource, img Image) error
	// GatesImages reports whether a policy governing p's requests on res
	// reads a wharf: key, i.e. whether authorizing each image of a batch
	// separately can change the answer.
	GatesImages(ctx context.Context, p Principal, res Resource) (bool, error)
}

// AuthorizeImage implements ImageAuthorizer.
func (a *PolicyAuthorizer) AuthorizeImage(ctx context.Context, p Principal, action string, res Resource, img Image) error {
	return a.authorize(ctx, p, action, res, img, true)
}

// GatesImages implements ImageAuthorizer.
func (a *PolicyAuthorizer) GatesImages(ctx context.Context, p Principal, res Resource) (bool, error) {
	if !p.Anonymous && p.UserName != "" {
		docs, err := a.Source.IdentityPolicies(ctx, p.AccountID, p.UserName)
		if err != nil {
			return false, err
		}
		if readImageKeysOf(a, docs...) {
			return true, nil
		}
	}
	var docs []string
	if res.Repository != "" {
		doc, err := a.Source.RepositoryPolicy(ctx, res.AccountID, res.Repository)
		if err != nil {
			return false, err
		}
		docs = append(docs, doc)
	}
	doc, err := a.Source.RegistryPolicy(ctx, res.AccountID)
	if err != nil {
		return false, err
	}
	return readImageKeysOf(a, append(docs, doc)...), nil
}

func readImageKeysOf(a *PolicyAuthorizer, docs ...string) bool {
	for _, d := range docs {
		if p, err := a.parse(d); err == nil && p != nil && p.UsesKeysOf(imageKeyService) {
			return true
		}
	}
	return false
}

// readImageKeys reports whether any of the policies reads a wharf: key.
func readImageKeys(list []*policy.Policy) bool {
	for _, p := range list {
		if p.UsesKeysOf(imageKeyService) {
			return true
		}
	}
	return false
}

// explainGate tells a gate denial from any other: the denying statement
// reads wharf: keys, and without the gate statements that deny it the
// request is allowed (so the caller may learn what blocks the image; a
// caller denied anyway learns nothing). It returns the caller's message.
func explainGate(req policy.Request, ps policies, d policy.Decision, img Image) (string, bool) {
	first := d
	identity, resource := ps.identity, ps.resource
	// Each round drops one denying gate statement; a policy has finitely
	// many, and the bound keeps a pathological one cheap.
	for range 64 {
		if d.DenyPolicy == nil || !d.DenyPolicy.StatementUsesKeysOf(d.DenyStatement, imageKeyService) {
			return "", false
		}
		identity = without(identity, d.DenyPolicy, d.DenyStatement)
		resource = without(resource, d.DenyPolicy, d.DenyStatement)
		d = policy.Authorize(req, identity, resource)
		if d.Allowed {
			break
		}
	}
	if !d.Allowed {
		return "", false
	}
	base := req.Context
	msg := img.Explain(func(keys policy.Context) bool {
		v := req
		v.Context = make(policy.Context, len(base)+len(keys))
		for k, vals := range base {
			if len(k) < 6 || k[:6] != "wharf:" {
				v.Context[k] = vals
			}
		}
		for k, vals := range keys {
			v.Context[k] = vals
		}
		return first.DenyPolicy.StatementConditionsHold(first.DenyStatement, v)
	})
	return "pull blocked by policy: " + msg + " (" + where(ps, first) + ")", true
}

// without replaces p in list by p without statement i.
func without(list []*policy.Policy, p *policy.Policy, i int) []*policy.Policy {
	out := list
	for j, q := range list {
		if q == p {
			out = append([]*policy.Policy(nil), list...)
			out[j] = p.WithoutStatement(i)
		}
	}
	return out
}

// where names the denying statement for users: which policy, and its Sid
// or index.
func where(ps policies, d policy.Decision) string {
	kind := "identity policy"
	switch d.DenyPolicy {
	case ps.repo:
		kind = "repository policy"
	case ps.registry:
		kind = "registry policy"
	}
	if d.MatchedSid != "" {
		return kind + ", Sid " + strconv.Quote(d.MatchedSid)
	}
	return kind + ", Statement[" + strconv.Itoa(d.DenyStatement) + "]"
}

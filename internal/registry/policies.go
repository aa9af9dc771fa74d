package registry

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// The Service supplies the policy documents the authorizer evaluates
// (access.PolicySource), cached briefly: every /v2/ request is authorized,
// so these lookups sit on the hot path.

type docCache struct {
	mu  sync.Mutex
	ttl time.Duration
	now func() time.Time
	m   map[string]docEntry
}

type docEntry struct {
	docs    []string
	expires time.Time
}

func (c *docCache) get(key string) ([]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || c.now().After(e.expires) {
		return nil, false
	}
	return e.docs, true
}

func (c *docCache) put(key string, docs []string) {
	c.mu.Lock()
	if c.m == nil || len(c.m) > 100000 {
		c.m = map[string]docEntry{}
	}
	c.m[key] = docEntry{docs, c.now().Add(c.ttl)}
	c.mu.Unlock()
}

func (c *docCache) drop(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

// RepositoryPolicy returns the policy document of a repository ("" when it
// has none or does not exist).
func (s *Service) RepositoryPolicy(ctx context.Context, accountID, name string) (string, error) {
	r, err := s.Repository(ctx, accountID, name, false)
	if CodeOf(err) == CodeNameUnknown {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return r.Policy, nil
}

// RegistryPolicy returns an account's registry policy ("" when none).
func (s *Service) RegistryPolicy(ctx context.Context, accountID string) (string, error) {
	if d, ok := s.policyDocs.get("registry/" + accountID); ok {
		return d[0], nil
	}
	doc, err := s.meta.GetRegistryPolicy(ctx, accountID)
	if errors.Is(err, meta.ErrNotFound) {
		doc, err = "", nil
	}
	if err != nil {
		return "", err
	}
	s.policyDocs.put("registry/"+accountID, []string{doc})
	return doc, nil
}

// PutRegistryPolicy stores an account's registry policy.
func (s *Service) PutRegistryPolicy(ctx context.Context, accountID, doc string) error {
	defer s.policyDocs.drop("registry/" + accountID)
	return s.meta.PutRegistryPolicy(ctx, accountID, doc)
}

// DeleteRegistryPolicy removes an account's registry policy.
func (s *Service) DeleteRegistryPolicy(ctx context.Context, accountID string) error {
	defer s.policyDocs.drop("registry/" + accountID)
	return s.meta.DeleteRegistryPolicy(ctx, accountID)
}

// IdentityPolicies returns the inline policies of an IAM user.
func (s *Service) IdentityPolicies(ctx context.Context, accountID, userName string) ([]string, error) {
	key := "user/" + accountID + "/" + userName
	if d, ok := s.policyDocs.get(key); ok {
		return d, nil
	}
	ps, err := s.meta.ListUserPolicies(ctx, accountID, userName)
	if err != nil {
		return nil, err
	}
	docs := make([]string, len(ps))
	for i, p := range ps {
		docs[i] = p.Document
	}
	s.policyDocs.put(key, docs)
	return docs, nil
}

// ForgetIdentityPolicies drops a user's cached policies after a change.
func (s *Service) ForgetIdentityPolicies(accountID, userName string) {
	s.policyDocs.drop("user/" + accountID + "/" + userName)
}

// ResourceTags returns the tags of a resource by ARN (cached briefly).
func (s *Service) ResourceTags(ctx context.Context, arn string) (map[string]string, error) {
	key := "tags/" + arn
	if d, ok := s.policyDocs.get(key); ok {
		tags := make(map[string]string, len(d)/2)
		for i := 0; i+1 < len(d); i += 2 {
			tags[d[i]] = d[i+1]
		}
		return tags, nil
	}
	tags, err := s.meta.ListResourceTags(ctx, arn)
	if err != nil {
		return nil, err
	}
	flat := make([]string, 0, 2*len(tags))
	for k, v := range tags {
		flat = append(flat, k, v)
	}
	s.policyDocs.put(key, flat)
	return tags, nil
}

// PutResourceTags adds or overwrites tags of a resource.
func (s *Service) PutResourceTags(ctx context.Context, arn string, tags map[string]string) error {
	defer s.policyDocs.drop("tags/" + arn)
	return s.meta.PutResourceTags(ctx, arn, tags)
}

// DeleteResourceTags removes tags of a resource.
func (s *Service) DeleteResourceTags(ctx context.Context, arn string, keys []string) error {
	defer s.policyDocs.drop("tags/" + arn)
	return s.meta.DeleteResourceTags(ctx, arn, keys)
}

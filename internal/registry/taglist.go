package registry

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// tagListCache keeps each repository's sorted tag list for a short TTL, so
// listing a repository with thousands of tags is a slice of memory rather
// than a table scan per request. Local tag writes drop the entry at once.
type tagListCache struct {
	mu  sync.Mutex
	ttl time.Duration
	now func() time.Time
	m   map[int64]tagListEntry
}

type tagListEntry struct {
	tags    []string
	expires time.Time
}

func newTagListCache(ttl time.Duration, now func() time.Time) *tagListCache {
	return &tagListCache{ttl: ttl, now: now, m: map[int64]tagListEntry{}}
}

func (c *tagListCache) get(repo int64) ([]string, bool) {
	c.mu.Lock()
	e, ok := c.m[repo]
	c.mu.Unlock()
	if !ok || c.now().After(e.expires) {
		return nil, false
	}
	return e.tags, true
}

func (c *tagListCache) put(repo int64, tags []string) {
	c.mu.Lock()
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[repo] = tagListEntry{tags, c.now().Add(c.ttl)}
	c.mu.Unlock()
}

func (c *tagListCache) drop(repo int64) {
	c.mu.Lock()
	delete(c.m, repo)
	c.mu.Unlock()
}

// tagListPage is how many tags are read from the store per query when the
// whole list is loaded.
const tagListPage = 5000

// Tags lists tags in lexical order after last, at most n.
func (s *Service) Tags(ctx context.Context, r meta.Repository, last string, n int) ([]string, error) {
	all, ok := s.tagLists.get(r.ID)
	if !ok {
		var err error
		if all, err = s.loadTags(ctx, r); err != nil {
			return nil, err
		}
		s.tagLists.put(r.ID, all)
	}
	i := 0
	if last != "" {
		i = sort.Search(len(all), func(i int) bool { return all[i] > last })
	}
	j := min(len(all), i+n)
	// A copy, so callers cannot disturb the cached slice.
	return append([]string(nil), all[i:j]...), nil
}

func (s *Service) loadTags(ctx context.Context, r meta.Repository) ([]string, error) {
	var all []string
	after := ""
	for {
		page, err := s.meta.ListTags(ctx, r.ID, after, tagListPage)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < tagListPage {
			return all, nil
		}
		after = page[len(page)-1]
	}
}

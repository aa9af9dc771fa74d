package registry

import (
	"container/list"
	"sync"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// repoCache keeps repository rows by (account, name) for a short TTL, so
// the hot path does not read the row per request. Local changes drop the
// entry at once; other nodes' settings changes are seen within the TTL.
type repoCache struct {
	mu  sync.RWMutex
	ttl time.Duration
	now func() time.Time
	m   map[repoCacheKey]repoEntry
}

type repoCacheKey struct{ account, name string }

type repoEntry struct {
	r       meta.Repository
	expires time.Time
}

func newRepoCache(ttl time.Duration, now func() time.Time) *repoCache {
	return &repoCache{ttl: ttl, now: now, m: map[repoCacheKey]repoEntry{}}
}

func repoKey(account, name string) repoCacheKey { return repoCacheKey{account, name} }

func (c *repoCache) get(account, name string) (meta.Repository, bool) {
	c.mu.RLock()
	e, ok := c.m[repoKey(account, name)]
	c.mu.RUnlock()
	if !ok || c.now().After(e.expires) {
		return meta.Repository{}, false
	}
	return e.r, true
}

func (c *repoCache) put(r meta.Repository) {
	c.mu.Lock()
	if len(c.m) > 100000 {
		clear(c.m)
	}
	c.m[repoKey(r.AccountID, r.Name)] = repoEntry{r, c.now().Add(c.ttl)}
	c.mu.Unlock()
}

func (c *repoCache) drop(account, name string) {
	c.mu.Lock()
	delete(c.m, repoKey(account, name))
	c.mu.Unlock()
}

// manifestCache is an LRU of manifests by (repository, digest), bounded in
// bytes. A manifest's bytes never change for a digest, but it can be deleted
// on another node: entries expire after a short TTL (local deletes drop them
// at once), so a deletion anywhere is seen everywhere within the TTL.
type manifestCache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	ttl   time.Duration
	now   func() time.Time
	ll    *list.List
	items map[manifestKey]*list.Element
}

type manifestKey struct {
	repo   int64
	digest string
}

type manifestEntry struct {
	key     manifestKey
	m       meta.Manifest
	expires time.Time
}

func newManifestCache(max int64, ttl time.Duration, now func() time.Time) *manifestCache {
	return &manifestCache{max: max, ttl: ttl, now: now, ll: list.New(), items: map[manifestKey]*list.Element{}}
}

func (c *manifestCache) get(repo int64, digest string) (meta.Manifest, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[manifestKey{repo, digest}]
	if !ok {
		return meta.Manifest{}, false
	}
	ent := e.Value.(*manifestEntry)
	if c.now().After(ent.expires) {
		c.remove(e)
		return meta.Manifest{}, false
	}
	c.ll.MoveToFront(e)
	return ent.m, true
}

func (c *manifestCache) put(m meta.Manifest) {
	cost := int64(len(m.Content)) + 256
	if cost > c.max/4 {
		return
	}
	k := manifestKey{m.RepoID, m.Digest}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		e.Value.(*manifestEntry).expires = c.now().Add(c.ttl)
		c.ll.MoveToFront(e)
		return
	}
	c.items[k] = c.ll.PushFront(&manifestEntry{key: k, m: m, expires: c.now().Add(c.ttl)})
	c.size += cost
	for c.size > c.max {
		e := c.ll.Back()
		c.remove(e)
	}
}

func (c *manifestCache) remove(e *list.Element) {
	ent := e.Value.(*manifestEntry)
	c.ll.Remove(e)
	delete(c.items, ent.key)
	c.size -= int64(len(ent.m.Content)) + 256
}

func (c *manifestCache) drop(repo int64, digest string) {
	c.mu.Lock()
	if e, ok := c.items[manifestKey{repo, digest}]; ok {
		c.remove(e)
	}
	c.mu.Unlock()
}

func (c *manifestCache) dropRepo(repo int64) {
	c.mu.Lock()
	for k, e := range c.items {
		if k.repo == repo {
			c.remove(e)
		}
	}
	c.mu.Unlock()
}

// tagCache remembers tag resolutions for a short TTL, so the hot path of
// manifest GETs by tag rarely reaches the store. Local tag moves update it at
// once; moves on other nodes are seen within the TTL.
type tagCache struct {
	mu  sync.RWMutex
	ttl time.Duration
	now func() time.Time
	m   map[tagKey]tagEntry
}

type tagKey struct {
	repo int64
	tag  string
}

type tagEntry struct {
	digest  string
	expires time.Time
}

func newTagCache(ttl time.Duration, now func() time.Time) *tagCache {
	return &tagCache{ttl: ttl, now: now, m: map[tagKey]tagEntry{}}
}

func (c *tagCache) get(repo int64, tag string) (string, bool) {
	c.mu.RLock()
	e, ok := c.m[tagKey{repo, tag}]
	c.mu.RUnlock()
	if !ok || c.now().After(e.expires) {
		return "", false
	}
	return e.digest, true
}

func (c *tagCache) put(repo int64, tag, digest string) {
	c.mu.Lock()
	if len(c.m) > 200000 {
		clear(c.m)
	}
	c.m[tagKey{repo, tag}] = tagEntry{digest, c.now().Add(c.ttl)}
	c.mu.Unlock()
}

func (c *tagCache) drop(repo int64, tag string) {
	c.mu.Lock()
	delete(c.m, tagKey{repo, tag})
	c.mu.Unlock()
}

func (c *tagCache) dropDigest(repo int64, digest string) {
	c.mu.Lock()
	for k, e := range c.m {
		if k.repo == repo && e.digest == digest {
			delete(c.m, k)
		}
	}
	c.mu.Unlock()
}

func (c *tagCache) dropRepo(repo int64) {
	c.mu.Lock()
	for k := range c.m {
		if k.repo == repo {
			delete(c.m, k)
		}
	}
	c.mu.Unlock()
}

// keyedMutex serialises work on one key (an upload session) in this process.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

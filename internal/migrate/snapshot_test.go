package migrate_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/migrate"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// A snapshot is everything a registry's stores hold, read through the
// store interfaces, minus what a copy cannot keep (row ids, and the link
// and blob creation times, which only time garbage collection). Two
// registries with equal snapshots are the same registry.
type snapshot struct {
	Accounts         []meta.Account
	Users            []meta.User
	Keys             []meta.AccessKey
	UserPolicies     []meta.UserPolicy
	RegistryPolicies map[string]string
	Settings         map[string]map[string]string
	Templates        []meta.CreationTemplate
	PullExclusions   []meta.PullTimeExclusion
	Repos            map[string]*repoSnapshot
	ResourceTags     map[string]map[string]string
	Suppressions     []meta.Suppression
	// Blobs maps every linked digest to its size, each read from the blob
	// store and hashed; Stored lists every blob the blob store holds.
	Blobs  map[string]int64
	Stored []string
}

type repoSnapshot struct {
	Repo      meta.Repository
	Lifecycle *meta.LifecyclePolicy
	Guard     meta.PlatformGuard
	Links     []string
	Manifests []meta.Manifest
	Refs      map[string]meta.Refs
	Tags      []meta.TagInfo
	Events    []meta.TagEvent
}

func takeSnapshot(t *testing.T, st *migrate.Stores) *snapshot {
	t.Helper()
	ctx := context.Background()
	m := st.Meta
	s := &snapshot{RegistryPolicies: map[string]string{}, Settings: map[string]map[string]string{},
		Repos: map[string]*repoSnapshot{}, ResourceTags: map[string]map[string]string{}, Blobs: map[string]int64{}}
	s.Accounts = try(m.ListAccounts(ctx)).must(t)
	for _, a := range s.Accounts {
		users := try(m.ListUsers(ctx, a.ID)).must(t)
		s.Users = append(s.Users, users...)
		s.Keys = append(s.Keys, try(m.ListAccessKeys(ctx, a.ID, "")).must(t)...)
		for _, u := range users {
			s.Keys = append(s.Keys, try(m.ListAccessKeys(ctx, a.ID, u.Name)).must(t)...)
			s.UserPolicies = append(s.UserPolicies, try(m.ListUserPolicies(ctx, a.ID, u.Name)).must(t)...)
		}
		if doc, err := m.GetRegistryPolicy(ctx, a.ID); err == nil {
			s.RegistryPolicies[a.ID] = doc
		}
		s.Settings[a.ID] = try(m.ListAccountSettings(ctx, a.ID)).must(t)
		s.Templates = append(s.Templates, try(m.ListCreationTemplates(ctx, a.ID)).must(t)...)
		s.Suppressions = append(s.Suppressions, try(m.ListSuppressions(ctx, meta.SuppressionFilter{AccountID: a.ID})).must(t)...)
		s.PullExclusions = append(s.PullExclusions, try(m.ListPullTimeExclusions(ctx, a.ID, "", 0)).must(t)...)
		for _, r := range try(m.ListRepositories(ctx, a.ID, "", 0)).must(t) {
			rs := &repoSnapshot{Repo: r, Refs: map[string]meta.Refs{}}
			rs.Repo.ID = 0
			if lp, err := m.GetLifecyclePolicy(ctx, r.ID); err == nil {
				lp.RepoID = 0
				rs.Lifecycle = &lp
			}
			rs.Guard = try(m.GetPlatformGuard(ctx, r.ID)).must(t)
			rs.Guard.RepoID = 0
			for _, b := range try(m.ListBlobLinks(ctx, r.ID, "", 0)).must(t) {
				rs.Links = append(rs.Links, fmt.Sprintf("%s:%d", b.Digest, b.Size))
				s.Blobs[b.Digest] = b.Size
			}
			for _, im := range try(m.ListImages(ctx, r.ID, "", 0)).must(t) {
				mf := try(m.GetManifest(ctx, r.ID, im.Digest)).must(t)
				mf.RepoID = 0
				if len(mf.Annotations) == 0 {
					mf.Annotations = nil
				}
				rs.Manifests = append(rs.Manifests, mf)
				rs.Refs[im.Digest] = try(m.ManifestRefs(ctx, r.ID, im.Digest)).must(t)
			}
			rs.Tags = try(m.ListTagInfos(ctx, r.ID, "", 0)).must(t)
			for _, e := range try(m.ListTagEvents(ctx, r.ID, 0, 0)).must(t) {
				e.RepoID = 0
				rs.Events = append(rs.Events, e)
			}
			s.Repos[a.ID+"/"+r.Name] = rs
		}
	}
	for _, arn := range try(m.ListTaggedResources(ctx)).must(t) {
		s.ResourceTags[arn] = try(m.ListResourceTags(ctx, arn)).must(t)
	}
	for d, size := range s.Blobs {
		rd, n, err := st.Blobs.Open(ctx, d)
		check(t, err)
		h := sha256.New()
		got, err := io.Copy(h, rd)
		rd.Close()
		check(t, err)
		if n != size || got != size || "sha256:"+hex.EncodeToString(h.Sum(nil)) != d {
			t.Fatalf("blob %s: store says %d bytes, read %d, want %d, or it does not hash to its digest", d, n, got, size)
		}
	}
	check(t, st.Blobs.Walk(ctx, func(d string, _ int64) error { s.Stored = append(s.Stored, d); return nil }))
	slices.Sort(s.Stored)
	return s
}

// sameSnapshot fails the test at the first difference.
func sameSnapshot(t *testing.T, want, got *snapshot) {
	t.Helper()
	w, g := jsonLines(t, want), jsonLines(t, got)
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			lo, hi := max(0, i-6), min(len(w), i+3)
			t.Fatalf("the copy differs from the source at line %d:\n want: %s\n got:  %s\ncontext (source):\n%s",
				i+1, wl, gl, strings.Join(w[lo:hi], "\n"))
		}
	}
}

func jsonLines(t *testing.T, s *snapshot) []string {
	b, err := json.MarshalIndent(s, "", " ")
	check(t, err)
	return strings.Split(string(b), "\n")
}

// totals counts what a snapshot holds, per kind of the report.
func (s *snapshot) totals() map[string]int64 {
	n := map[string]int64{
		migrate.KindAccounts: int64(len(s.Accounts)), migrate.KindUsers: int64(len(s.Users)),
		migrate.KindAccessKeys: int64(len(s.Keys)), migrate.KindUserPolicies: int64(len(s.UserPolicies)),
		migrate.KindRegistryPolicies: int64(len(s.RegistryPolicies)), migrate.KindCreationTemplates: int64(len(s.Templates)),
		migrate.KindRepositories: int64(len(s.Repos)), migrate.KindBlobs: int64(len(s.Blobs)),
		migrate.KindPullExclusions: int64(len(s.PullExclusions)),
	}
	for _, st := range s.Settings {
		n[migrate.KindAccountSettings] += int64(len(st))
	}
	for _, tags := range s.ResourceTags {
		n[migrate.KindResourceTags] += int64(len(tags))
	}
	for _, r := range s.Repos {
		n[migrate.KindBlobLinks] += int64(len(r.Links))
		n[migrate.KindManifests] += int64(len(r.Manifests))
		n[migrate.KindTags] += int64(len(r.Tags))
		n[migrate.KindTagEvents] += int64(len(r.Events))
		if r.Lifecycle != nil {
			n[migrate.KindLifecyclePolicies]++
		}
		if !r.Guard.UpdatedAt.IsZero() {
			n[migrate.KindPlatformGuards]++
		}
		for _, m := range r.Manifests {
			if !m.LastPullAt.IsZero() {
				n[migrate.KindPullTimes]++
			}
			if migrate.HasImageState(m) {
				n[migrate.KindImageStates]++
			}
		}
	}
	return n
}

func (s *snapshot) bytes() int64 {
	var n int64
	for _, size := range s.Blobs {
		n += size
	}
	return n
}

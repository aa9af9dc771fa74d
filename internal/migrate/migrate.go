// Package migrate copies a whole registry from one pair of stores (a
// meta.Store and a blob.Store) to another: typically an embedded registry
// (SQLite and the filesystem) onto PostgreSQL and S3 for a scale-out
// deployment, or back the other way for a restore. It works through the
// store interfaces only, so any pair of implementations works.
//
// # What is copied
//
// Accounts; IAM users, their inline policies and access keys (secrets
// included); registry policies; account settings; repository creation
// templates; repositories with every setting and their policy; lifecycle
// policies; resource tags (by ARN, verbatim); blobs, streamed, hashed on the
// way and read back from the destination and hashed again; blob links;
// manifests byte for byte with their push and last pull times and their
// references; tags with their update times; the complete tag history (every
// event of every tag, deleted tags included, with its time, actor and
// channel). Not copied: upload sessions in progress (clients restart them)
// and lifecycle policy previews (dry runs; run them again).
//
// # Idempotent and resumable
//
// Every step first looks at the destination and skips what is there
// already: the report counts it as skipped. A blob present with the right
// size is read back and hashed (unless Options.TrustExisting) and copied
// again if it does not match; tag events are appended after the prefix the
// destination has already, so nothing is ever duplicated. Re-running after
// an interruption (or a crash: upload data a killed run left on the
// destination is removed at the start) finishes the copy.
//
// Re-running also picks up what changed in the source since the last run
// (new images, moved tags, changed settings and policies), so a large
// registry can be copied while it serves and then once more, briefly, with
// the server stopped. IAM users, keys, inline policies, registry policies,
// creation templates, lifecycle policies and the resource tags of copied
// ARNs mirror the source (what the source no longer has is deleted on the
// destination, so a revoked key stays revoked); repositories, manifests and
// tags that only the destination has are reported, never deleted.
//
// The destination must not be in use while the migration runs (no `wharf
// serve` on it: its garbage collector would remove the migration's uploads)
// and must not hold accounts the source lacks: the migration refuses a
// destination that is not empty or an earlier copy of this source.
package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/store/blob"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// page is the size of the pages read from the stores.
const page = 500

// Options tune a migration.
type Options struct {
	// Workers is the number of blobs copied at once (default 4).
	Workers int
	// TrustExisting skips reading back blobs the destination holds already
	// with the right size (a faster resume; copied blobs are always read
	// back).
	TrustExisting bool
	// Logger receives progress (default: discarded).
	Logger *slog.Logger
	// OnBlob, if set, is called (from the copying goroutines) each time a
	// blob is present and verified on the destination.
	OnBlob func(digest string)
}

func (o Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return 4
}

// Copier copies the registry in the source stores to the destination
// stores.
type Copier struct {
	SrcMeta  meta.Store
	SrcBlobs blob.Store
	DstMeta  meta.Store
	DstBlobs blob.Store
	Options  Options
}

func (c *Copier) log() *slog.Logger {
	if c.Options.Logger != nil {
		return c.Options.Logger
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Run copies everything and returns the report, also when it fails
// (counting what was done). Items of the source that cannot be copied (a
// blob missing or corrupt in the source store, and what depends on it) are
// listed in Report.Failures and make Run fail at the end; any other error
// stops it at once. Run again to resume.
func (c *Copier) Run(ctx context.Context) (*Report, error) {
	start := time.Now()
	rep := newReport(start)
	err := c.run(ctx, rep)
	rep.Duration = time.Since(start)
	if err == nil && len(rep.Failures) > 0 {
		err = fmt.Errorf("%d source items could not be copied (see the report); the rest was", len(rep.Failures))
	}
	return rep, err
}

func (c *Copier) run(ctx context.Context, rep *Report) error {
	if err := c.removeStaleUploads(ctx, rep); err != nil {
		return err
	}
	accounts, err := c.SrcMeta.ListAccounts(ctx)
	if err != nil {
		return fmt.Errorf("source: list accounts: %w", err)
	}
	if err := c.checkDestination(ctx, accounts); err != nil {
		return err
	}
	for _, a := range accounts {
		if err := c.copyAccount(ctx, rep, a); err != nil {
			return err
		}
	}
	bc := &blobCopier{c: c, rep: rep, done: map[string]error{}}
	for _, a := range accounts {
		if err := c.copyRepositories(ctx, rep, bc, a.ID); err != nil {
			return err
		}
	}
	if err := c.copyResourceTags(ctx, rep); err != nil {
		return err
	}
	for _, a := range accounts {
		if err := c.copySuppressions(ctx, rep, a.ID); err != nil {
			return err
		}
	}
	return nil
}

// checkDestination refuses a destination holding an account the source does
// not have: it is neither empty nor a copy of this source.
func (c *Copier) checkDestination(ctx context.Context, src []meta.Account) error {
	dst, err := c.DstMeta.ListAccounts(ctx)
	if err != nil {
		return fmt.Errorf("destination: list accounts: %w", err)
	}
	ids := map[string]bool{}
	for _, a := range src {
		ids[a.ID] = true
	}
	for _, a := range dst {
		if !ids[a.ID] {
			return fmt.Errorf("the destination holds account %s (%q), which the source does not: it is neither empty nor a copy of this registry "+
				"(was `wharf serve` started on it? migrate into empty stores)", a.ID, a.Name)
		}
	}
	return nil
}

// Accounts and everything account-wide.

func (c *Copier) copyAccount(ctx context.Context, rep *Report, a meta.Account) error {
	err := c.DstMeta.CreateAccount(ctx, a)
	switch {
	case err == nil:
		rep.copied(KindAccounts, 1)
	case errors.Is(err, meta.ErrExists):
		rep.skipped(KindAccounts, 1)
	default:
		return fmt.Errorf("destination: create account %s: %w", a.ID, err)
	}
	if err := c.copyUsers(ctx, rep, a.ID); err != nil {
		return err
	}
	if err := c.copyRegistryPolicy(ctx, rep, a.ID); err != nil {
		return err
	}
	if err := c.copyAccountSettings(ctx, rep, a.ID); err != nil {
		return err
	}
	if err := c.copyPullExclusions(ctx, rep, a.ID); err != nil {
		return err
	}
	return c.copyTemplates(ctx, rep, a.ID)
}

// copyPullExclusions mirrors the account's pull-time update exclusions.
func (c *Copier) copyPullExclusions(ctx context.Context, rep *Report, acct string) error {
	src, err := c.SrcMeta.ListPullTimeExclusions(ctx, acct, "", 0)
	if err != nil {
		return fmt.Errorf("source: list pull time exclusions of %s: %w", acct, err)
	}
	dst, err := c.DstMeta.ListPullTimeExclusions(ctx, acct, "", 0)
	if err != nil {
		return fmt.Errorf("destination: list pull time exclusions of %s: %w", acct, err)
	}
	in := map[string]bool{}
	for _, e := range src {
		in[e.PrincipalARN] = true
	}
	for _, e := range dst {
		if in[e.PrincipalARN] {
			continue
		}
		if err := c.DstMeta.DeletePullTimeExclusion(ctx, acct, e.PrincipalARN); err != nil && !errors.Is(err, meta.ErrNotFound) {
			return fmt.Errorf("destination: delete pull time exclusion %s: %w", e.PrincipalARN, err)
		}
		rep.removed(KindPullExclusions, 1)
	}
	for _, e := range src {
		_, err := c.DstMeta.PutPullTimeExclusion(ctx, e, 0)
		switch {
		case err == nil:
			rep.copied(KindPullExclusions, 1)
		case errors.Is(err, meta.ErrExists):
			rep.skipped(KindPullExclusions, 1)
		default:
			return fmt.Errorf("destination: put pull time exclusion %s: %w", e.PrincipalARN, err)
		}
	}
	return nil
}

func (c *Copier) copyUsers(ctx context.Context, rep *Report, acct string) error {
	src, err := c.SrcMeta.ListUsers(ctx, acct)
	if err != nil {
		return fmt.Errorf("source: list users of %s: %w", acct, err)
	}
	dst, err := c.DstMeta.ListUsers(ctx, acct)
	if err != nil {
		return fmt.Errorf("destination: list users of %s: %w", acct, err)
	}
	have := map[string]bool{}
	for _, u := range dst {
		have[u.Name] = true
	}
	want := map[string]bool{}
	for _, u := range src {
		want[u.Name] = true
		if have[u.Name] {
			rep.skipped(KindUsers, 1)
			continue
		}
		if err := c.DstMeta.CreateUser(ctx, u); err != nil {
			return fmt.Errorf("destination: create user %s/%s: %w", acct, u.Name, err)
		}
		rep.copied(KindUsers, 1)
	}
	for _, u := range dst {
		if !want[u.Name] {
			// Deleted in the source since an earlier run: its keys and
			// policies go with it.
			if err := c.DstMeta.DeleteUser(ctx, acct, u.Name); err != nil && !errors.Is(err, meta.ErrNotFound) {
				return fmt.Errorf("destination: delete user %s/%s: %w", acct, u.Name, err)
			}
			rep.removed(KindUsers, 1)
		}
	}
	// The root's keys (user ""), then each user's keys and policies.
	if err := c.copyKeys(ctx, rep, acct, ""); err != nil {
		return err
	}
	for _, u := range src {
		if err := c.copyKeys(ctx, rep, acct, u.Name); err != nil {
			return err
		}
		if err := c.copyUserPolicies(ctx, rep, acct, u.Name); err != nil {
			return err
		}
	}
	return nil
}

func (c *Copier) copyKeys(ctx context.Context, rep *Report, acct, user string) error {
	src, err := c.SrcMeta.ListAccessKeys(ctx, acct, user)
	if err != nil {
		return fmt.Errorf("source: list access keys of %s/%s: %w", acct, user, err)
	}
	dst, err := c.DstMeta.ListAccessKeys(ctx, acct, user)
	if err != nil {
		return fmt.Errorf("destination: list access keys of %s/%s: %w", acct, user, err)
	}
	have := map[string]meta.AccessKey{}
	for _, k := range dst {
		have[k.AccessKeyID] = k
	}
	for _, k := range src {
		d, ok := have[k.AccessKeyID]
		delete(have, k.AccessKeyID)
		if ok && d.Secret == k.Secret && d.AccountID == k.AccountID && d.UserName == k.UserName && d.Active == k.Active {
			rep.skipped(KindAccessKeys, 1)
			continue
		}
		if err := c.DstMeta.PutAccessKey(ctx, k); err != nil {
			return fmt.Errorf("destination: put access key %s: %w", k.AccessKeyID, err)
		}
		rep.copied(KindAccessKeys, 1)
	}
	for _, id := range slices.Sorted(maps.Keys(have)) {
		if err := c.DstMeta.DeleteAccessKey(ctx, id); err != nil && !errors.Is(err, meta.ErrNotFound) {
			return fmt.Errorf("destination: delete access key %s: %w", id, err)
		}
		rep.removed(KindAccessKeys, 1)
	}
	return nil
}

func (c *Copier) copyUserPolicies(ctx context.Context, rep *Report, acct, user string) error {
	src, err := c.SrcMeta.ListUserPolicies(ctx, acct, user)
	if err != nil {
		return fmt.Errorf("source: list policies of %s/%s: %w", acct, user, err)
	}
	dst, err := c.DstMeta.ListUserPolicies(ctx, acct, user)
	if err != nil {
		return fmt.Errorf("destination: list policies of %s/%s: %w", acct, user, err)
	}
	have := map[string]string{}
	for _, p := range dst {
		have[p.Name] = p.Document
	}
	for _, p := range src {
		doc, ok := have[p.Name]
		delete(have, p.Name)
		if ok && doc == p.Document {
			rep.skipped(KindUserPolicies, 1)
			continue
		}
		if err := c.DstMeta.PutUserPolicy(ctx, p); err != nil {
			return fmt.Errorf("destination: put policy %s of %s/%s: %w", p.Name, acct, user, err)
		}
		rep.copied(KindUserPolicies, 1)
	}
	for _, name := range slices.Sorted(maps.Keys(have)) {
		if err := c.DstMeta.DeleteUserPolicy(ctx, acct, user, name); err != nil && !errors.Is(err, meta.ErrNotFound) {
			return fmt.Errorf("destination: delete policy %s of %s/%s: %w", name, acct, user, err)
		}
		rep.removed(KindUserPolicies, 1)
	}
	return nil
}

func (c *Copier) copyRegistryPolicy(ctx context.Context, rep *Report, acct string) error {
	src, err := c.SrcMeta.GetRegistryPolicy(ctx, acct)
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		return fmt.Errorf("source: registry policy of %s: %w", acct, err)
	}
	dst, derr := c.DstMeta.GetRegistryPolicy(ctx, acct)
	if derr != nil && !errors.Is(derr, meta.ErrNotFound) {
		return fmt.Errorf("destination: registry policy of %s: %w", acct, derr)
	}
	switch {
	case err != nil && derr != nil: // none on either side
	case err != nil:
		if err := c.DstMeta.DeleteRegistryPolicy(ctx, acct); err != nil && !errors.Is(err, meta.ErrNotFound) {
			return fmt.Errorf("destination: delete registry policy of %s: %w", acct, err)
		}
		rep.removed(KindRegistryPolicies, 1)
	case derr == nil && dst == src:
		rep.skipped(KindRegistryPolicies, 1)
	default:
		if err := c.DstMeta.PutRegistryPolicy(ctx, acct, src); err != nil {
			return fmt.Errorf("destination: put registry policy of %s: %w", acct, err)
		}
		rep.copied(KindRegistryPolicies, 1)
	}
	return nil
}

func (c *Copier) copyAccountSettings(ctx context.Context, rep *Report, acct string) error {
	src, err := c.SrcMeta.ListAccountSettings(ctx, acct)
	if err != nil {
		return fmt.Errorf("source: account settings of %s: %w", acct, err)
	}
	dst, err := c.DstMeta.ListAccountSettings(ctx, acct)
	if err != nil {
		return fmt.Errorf("destination: account settings of %s: %w", acct, err)
	}
	for _, name := range slices.Sorted(maps.Keys(src)) {
		if v, ok := dst[name]; ok && v == src[name] {
			rep.skipped(KindAccountSettings, 1)
			continue
		}
		if err := c.DstMeta.PutAccountSetting(ctx, acct, name, src[name]); err != nil {
			return fmt.Errorf("destination: put account setting %s of %s: %w", name, acct, err)
		}
		rep.copied(KindAccountSettings, 1)
	}
	return nil
}

func (c *Copier) copyTemplates(ctx context.Context, rep *Report, acct string) error {
	src, err := c.SrcMeta.ListCreationTemplates(ctx, acct)
	if err != nil {
		return fmt.Errorf("source: creation templates of %s: %w", acct, err)
	}
	dst, err := c.DstMeta.ListCreationTemplates(ctx, acct)
	if err != nil {
		return fmt.Errorf("destination: creation templates of %s: %w", acct, err)
	}
	have := map[string]meta.CreationTemplate{}
	for _, t := range dst {
		have[t.Prefix] = t
	}
	for _, t := range src {
		d, ok := have[t.Prefix]
		delete(have, t.Prefix)
		switch {
		case ok && bytes.Equal(d.Body, t.Body) && d.UpdatedAt.Equal(t.UpdatedAt):
			rep.skipped(KindCreationTemplates, 1)
			continue
		case ok:
			err = c.DstMeta.UpdateCreationTemplate(ctx, t)
		default:
			err = c.DstMeta.CreateCreationTemplate(ctx, t)
		}
		if err != nil {
			return fmt.Errorf("destination: creation template %q of %s: %w", t.Prefix, acct, err)
		}
		rep.copied(KindCreationTemplates, 1)
	}
	for _, prefix := range slices.Sorted(maps.Keys(have)) {
		if err := c.DstMeta.DeleteCreationTemplate(ctx, acct, prefix); err != nil && !errors.Is(err, meta.ErrNotFound) {
			return fmt.Errorf("destination: delete creation template %q of %s: %w", prefix, acct, err)
		}
		rep.removed(KindCreationTemplates, 1)
	}
	return nil
}

// Repositories.

func (c *Copier) copyRepositories(ctx context.Context, rep *Report, bc *blobCopier, acct string) error {
	names := map[string]bool{}
	after := ""
	for {
		repos, err := c.SrcMeta.ListRepositories(ctx, acct, after, page)
		if err != nil {
			return fmt.Errorf("source: list repositories of %s: %w", acct, err)
		}
		for _, r := range repos {
			names[r.Name] = true
			if err := c.copyRepository(ctx, rep, bc, r); err != nil {
				return fmt.Errorf("repository %s/%s: %w", acct, r.Name, err)
			}
		}
		if len(repos) < page {
			break
		}
		after = repos[len(repos)-1].Name
	}
	after = ""
	for {
		repos, err := c.DstMeta.ListRepositories(ctx, acct, after, page)
		if err != nil {
			return fmt.Errorf("destination: list repositories of %s: %w", acct, err)
		}
		for _, r := range repos {
			if !names[r.Name] {
				rep.extra("repository %s/%s", acct, r.Name)
			}
		}
		if len(repos) < page {
			return nil
		}
		after = repos[len(repos)-1].Name
	}
}

func sameSettings(a, b meta.Repository) bool {
	return a.TagMutability == b.TagMutability && a.MutabilityRule == b.MutabilityRule && a.ScanOnPush == b.ScanOnPush &&
		a.EncryptionType == b.EncryptionType && a.KMSKey == b.KMSKey && a.Policy == b.Policy && a.ScanFilter == b.ScanFilter
}

func (c *Copier) copyRepository(ctx context.Context, rep *Report, bc *blobCopier, sr meta.Repository) error {
	dr, err := c.DstMeta.GetRepository(ctx, sr.AccountID, sr.Name)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		nr := sr
		nr.ID = 0
		if dr, err = c.DstMeta.CreateRepository(ctx, nr); err != nil {
			return fmt.Errorf("destination: create: %w", err)
		}
		rep.copied(KindRepositories, 1)
	case err != nil:
		return fmt.Errorf("destination: get: %w", err)
	case sameSettings(sr, dr):
		rep.skipped(KindRepositories, 1)
	default:
		id := dr.ID
		dr = sr
		dr.ID = id
		if err := c.DstMeta.UpdateRepository(ctx, dr); err != nil {
			return fmt.Errorf("destination: update settings: %w", err)
		}
		rep.copied(KindRepositories, 1)
	}
	log := c.log().With("repository", sr.AccountID+"/"+sr.Name)
	log.Info("copying repository")

	linked, failed, err := c.copyLinks(ctx, rep, bc, sr, dr)
	if err != nil {
		return err
	}
	if err := c.copyManifests(ctx, rep, bc, sr, dr, linked, failed); err != nil {
		return err
	}
	if err := c.copyTags(ctx, rep, sr, dr); err != nil {
		return err
	}
	if err := c.copyTagEvents(ctx, rep, sr, dr); err != nil {
		return err
	}
	if err := c.copyLifecyclePolicy(ctx, rep, sr, dr); err != nil {
		return err
	}
	return c.copyPlatformGuard(ctx, rep, sr, dr)
}

// copyPlatformGuard copies the repository's platform guard setting (the
// recycle bin is not copied: its entries are deleted images).
func (c *Copier) copyPlatformGuard(ctx context.Context, rep *Report, sr, dr meta.Repository) error {
	sg, err := c.SrcMeta.GetPlatformGuard(ctx, sr.ID)
	if err != nil {
		return fmt.Errorf("source: platform guard: %w", err)
	}
	dg, err := c.DstMeta.GetPlatformGuard(ctx, dr.ID)
	if err != nil {
		return fmt.Errorf("destination: platform guard: %w", err)
	}
	switch {
	case sg.UpdatedAt.IsZero() && dg.UpdatedAt.IsZero():
		return nil // never set on either side
	case sg.Enabled == dg.Enabled && sg.UpdatedAt.Equal(dg.UpdatedAt) && sg.UpdatedBy == dg.UpdatedBy:
		rep.skipped(KindPlatformGuards, 1)
		return nil
	}
	sg.RepoID = dr.ID
	if sg.UpdatedAt.IsZero() {
		sg.UpdatedAt = dg.UpdatedAt // set only on the destination: turn it off there
	}
	if err := c.DstMeta.PutPlatformGuard(ctx, sg); err != nil {
		return fmt.Errorf("destination: put platform guard: %w", err)
	}
	rep.copied(KindPlatformGuards, 1)
	return nil
}

// copyLinks copies the blobs the repository links, then links them. It
// returns the digests linked in the source and those that failed.
func (c *Copier) copyLinks(ctx context.Context, rep *Report, bc *blobCopier, sr, dr meta.Repository) (linked, failed map[string]bool, err error) {
	linked, failed = map[string]bool{}, map[string]bool{}
	after := ""
	for {
		links, err := c.SrcMeta.ListBlobLinks(ctx, sr.ID, after, page)
		if err != nil {
			return nil, nil, fmt.Errorf("source: list blob links: %w", err)
		}
		if err := c.linkBlobs(ctx, rep, bc, dr, links, linked, failed); err != nil {
			return nil, nil, err
		}
		if len(links) < page {
			return linked, failed, nil
		}
		after = links[len(links)-1].Digest
	}
}

// linkBlobs makes the blobs present on the destination, then links them
// in the destination repository, recording them in linked (and those that
// failed in failed).
func (c *Copier) linkBlobs(ctx context.Context, rep *Report, bc *blobCopier, dr meta.Repository, links []meta.Blob, linked, failed map[string]bool) error {
	refs := make([]blobRef, len(links))
	for i, b := range links {
		refs[i] = blobRef{digest: b.Digest, size: b.Size}
	}
	// Content first, then metadata: a link never names a blob the
	// destination does not hold, whenever the run stops.
	outcome, err := bc.ensure(ctx, refs)
	if err != nil {
		return err
	}
	for _, b := range links {
		linked[b.Digest] = true
		if outcome[b.Digest] != nil {
			failed[b.Digest] = true
			continue
		}
		_, err := c.DstMeta.GetBlob(ctx, dr.ID, b.Digest)
		switch {
		case err == nil:
			rep.skipped(KindBlobLinks, 1)
			continue
		case !errors.Is(err, meta.ErrNotFound):
			return fmt.Errorf("destination: get blob %s: %w", b.Digest, err)
		}
		if err := c.DstMeta.LinkBlob(ctx, dr.ID, meta.Blob{Digest: b.Digest, Size: b.Size}); err != nil {
			return fmt.Errorf("destination: link blob %s: %w", b.Digest, err)
		}
		rep.copied(KindBlobLinks, 1)
	}
	return nil
}

// copyManifests copies the manifests of the repository, index children
// before their indexes.
func (c *Copier) copyManifests(ctx context.Context, rep *Report, bc *blobCopier, sr, dr meta.Repository, linked, failed map[string]bool) error {
	refs := map[string]meta.Refs{}
	var digests []string
	after := ""
	for {
		ims, err := c.SrcMeta.ListImages(ctx, sr.ID, after, page)
		if err != nil {
			return fmt.Errorf("source: list manifests: %w", err)
		}
		for _, im := range ims {
			r, err := c.SrcMeta.ManifestRefs(ctx, sr.ID, im.Digest)
			if errors.Is(err, meta.ErrNotFound) {
				continue // deleted meanwhile
			}
			if err != nil {
				return fmt.Errorf("source: references of %s: %w", im.Digest, err)
			}
			refs[im.Digest] = r
			digests = append(digests, im.Digest)
		}
		if len(ims) < page {
			break
		}
		after = ims[len(ims)-1].Digest
	}

	// Blobs linked in the source after its links were listed (a push
	// while the source serves): copy and link them too, or the manifest
	// would go in without them.
	var late []meta.Blob
	seen := map[string]bool{}
	for _, d := range digests {
		for _, b := range refs[d].Blobs {
			if linked[b] || seen[b] {
				continue
			}
			seen[b] = true
			sb, err := c.SrcMeta.GetBlob(ctx, sr.ID, b)
			switch {
			case err == nil:
				late = append(late, sb)
			case !errors.Is(err, meta.ErrNotFound):
				return fmt.Errorf("source: get blob %s: %w", b, err)
			}
		}
	}
	if len(late) > 0 {
		if err := c.linkBlobs(ctx, rep, bc, dr, late, linked, failed); err != nil {
			return err
		}
	}

	// Depth first, children first. Content addressing rules out cycles;
	// the guard only keeps a corrupt source from looping.
	state := map[string]int{} // 1: visiting, 2: done
	bad := map[string]bool{}  // failed, so its parents fail too
	var visit func(d string) error
	visit = func(d string) error {
		if state[d] != 0 {
			return nil
		}
		state[d] = 1
		r := refs[d]
		for _, child := range r.Manifests {
			if _, ok := refs[child]; ok {
				if err := visit(child); err != nil {
					return err
				}
			}
		}
		state[d] = 2
		var broken []string
		for _, child := range r.Manifests {
			if bad[child] {
				broken = append(broken, child)
			}
		}
		for _, b := range r.Blobs {
			if failed[b] {
				broken = append(broken, b)
			}
		}
		if len(broken) > 0 {
			bad[d] = true
			rep.fail("manifest %s in %s/%s: not copied, it references what could not be: %v", d, sr.AccountID, sr.Name, broken)
			return nil
		}
		ok, err := c.copyManifest(ctx, rep, sr, dr, d, r, linked)
		if !ok {
			bad[d] = true
		}
		return err
	}
	for _, d := range digests {
		if err := visit(d); err != nil {
			return err
		}
	}

	// Manifests only the destination has.
	after = ""
	for {
		ims, err := c.DstMeta.ListImages(ctx, dr.ID, after, page)
		if err != nil {
			return fmt.Errorf("destination: list manifests: %w", err)
		}
		for _, im := range ims {
			if _, ok := refs[im.Digest]; !ok {
				rep.extra("manifest %s in %s/%s", im.Digest, sr.AccountID, sr.Name)
			}
		}
		if len(ims) < page {
			return nil
		}
		after = ims[len(ims)-1].Digest
	}
}

// copyManifest copies one manifest (its children are there already) and
// its last pull time, and verifies it. ok is false when it could not be
// copied for a reason reported as a failure.
func (c *Copier) copyManifest(ctx context.Context, rep *Report, sr, dr meta.Repository, d string, refs meta.Refs, linked map[string]bool) (ok bool, err error) {
	sm, err := c.SrcMeta.GetManifest(ctx, sr.ID, d)
	if errors.Is(err, meta.ErrNotFound) {
		return true, nil // deleted meanwhile
	}
	if err != nil {
		return false, fmt.Errorf("source: get manifest %s: %w", d, err)
	}
	if err := checkContent(sm, d); err != nil {
		rep.fail("manifest %s in %s/%s: %v", d, sr.AccountID, sr.Name, err)
		return false, nil
	}
	dm, err := c.DstMeta.GetManifest(ctx, dr.ID, d)
	switch {
	case err == nil:
		rep.skipped(KindManifests, 1)
	case errors.Is(err, meta.ErrNotFound):
		// The store records required and optional blob references alike;
		// those the source repository does not link (optional ones, or
		// links deleted after the push) go in as optional, which records
		// the same references without requiring the links.
		put := meta.PutManifest{Manifest: sm, Refs: meta.Refs{Manifests: refs.Manifests}}
		put.Manifest.RepoID = dr.ID
		for _, b := range refs.Blobs {
			if linked[b] {
				put.Refs.Blobs = append(put.Refs.Blobs, b)
			} else {
				put.Refs.Optional = append(put.Refs.Optional, b)
			}
		}
		if err := c.DstMeta.PutManifest(ctx, put); err != nil {
			var me *meta.MissingError
			if errors.As(err, &me) {
				rep.fail("manifest %s in %s/%s: %v", d, sr.AccountID, sr.Name, err)
				return false, nil
			}
			return false, fmt.Errorf("destination: put manifest %s: %w", d, err)
		}
		rep.copied(KindManifests, 1)
		if dm, err = c.DstMeta.GetManifest(ctx, dr.ID, d); err != nil {
			return false, fmt.Errorf("destination: read back manifest %s: %w", d, err)
		}
	default:
		return false, fmt.Errorf("destination: get manifest %s: %w", d, err)
	}

	if err := checkContent(dm, d); err != nil || !bytes.Equal(dm.Content, sm.Content) {
		return false, fmt.Errorf("manifest %s on the destination differs from the source (%v)", d, err)
	}
	if dm.MediaType != sm.MediaType || dm.ArtifactType != sm.ArtifactType || dm.Subject != sm.Subject ||
		dm.ConfigDigest != sm.ConfigDigest || dm.Size != sm.Size || !bytes.Equal(dm.Annotations, sm.Annotations) ||
		!dm.PushedAt.Equal(sm.PushedAt) {
		rep.extra("manifest %s in %s/%s: pushed again on the destination (push time or properties differ; kept)", d, sr.AccountID, sr.Name)
	}
	rep.add(func(r *Report) { r.ManifestsVerified++ })

	if !sm.LastPullAt.IsZero() {
		if dm.LastPullAt.Before(sm.LastPullAt) {
			if err := c.DstMeta.TouchPull(ctx, dr.ID, d, sm.LastPullAt); err != nil {
				return false, fmt.Errorf("destination: pull time of %s: %w", d, err)
			}
			rep.copied(KindPullTimes, 1)
		} else {
			rep.skipped(KindPullTimes, 1)
		}
	}
	return true, c.copyImageState(ctx, rep, dr, sm, dm)
}

// HasImageState reports whether an image's state differs from a new
// image's (active, never archived): the images KindImageStates counts.
func HasImageState(m meta.Manifest) bool {
	return registry.StatusOf(m) != meta.ImageActive || !m.ArchivedAt.IsZero() || !m.ActivatedAt.IsZero()
}

// copyImageState gives the destination image the source's status
// (archived, being restored) and times. An image being restored gets a
// restore job on the destination, due at once: the source's job stays
// behind.
func (c *Copier) copyImageState(ctx context.Context, rep *Report, dr meta.Repository, sm, dm meta.Manifest) error {
	status := registry.StatusOf(sm)
	if status == registry.StatusOf(dm) && sm.ArchivedAt.Equal(dm.ArchivedAt) && sm.ActivatedAt.Equal(dm.ActivatedAt) {
		if HasImageState(sm) {
			rep.skipped(KindImageStates, 1)
		}
		return nil
	}
	if status == meta.ImageActivating {
		payload, err := json.Marshal(registry.RestoreJob{RepoID: dr.ID, Digest: sm.Digest})
		if err != nil {
			return err
		}
		if _, _, err := c.DstMeta.Enqueue(ctx, meta.Job{Kind: registry.KindRestore,
			Key: registry.KindRestore + ":" + strconv.FormatInt(dr.ID, 10) + ":" + sm.Digest, Payload: payload}); err != nil {
			return fmt.Errorf("destination: restore job of %s: %w", sm.Digest, err)
		}
	}
	if err := c.DstMeta.RestoreImageState(ctx, dr.ID, sm.Digest, status, sm.ArchivedAt, sm.ActivatedAt); err != nil {
		return fmt.Errorf("destination: state of %s: %w", sm.Digest, err)
	}
	rep.copied(KindImageStates, 1)
	return nil
}

// checkContent checks that the manifest's bytes hash to its digest.
func checkContent(m meta.Manifest, d string) error {
	h, err := newHash(d)
	if err != nil {
		return err
	}
	h.Write(m.Content)
	if got := digestOf(h, d); got != d {
		return fmt.Errorf("content hashes to %s", got)
	}
	if m.Digest != d {
		return fmt.Errorf("stored under digest %s", m.Digest)
	}
	return nil
}

func (c *Copier) copyTags(ctx context.Context, rep *Report, sr, dr meta.Repository) error {
	have := map[string]meta.TagInfo{}
	after := ""
	for {
		tags, err := c.DstMeta.ListTagInfos(ctx, dr.ID, after, page)
		if err != nil {
			return fmt.Errorf("destination: list tags: %w", err)
		}
		for _, t := range tags {
			have[t.Name] = t
		}
		if len(tags) < page {
			break
		}
		after = tags[len(tags)-1].Name
	}
	after = ""
	for {
		tags, err := c.SrcMeta.ListTagInfos(ctx, sr.ID, after, page)
		if err != nil {
			return fmt.Errorf("source: list tags: %w", err)
		}
		for _, t := range tags {
			d, ok := have[t.Name]
			delete(have, t.Name)
			if ok && d.Digest == t.Digest && d.UpdatedAt.Equal(t.UpdatedAt) {
				rep.skipped(KindTags, 1)
				continue
			}
			err := c.DstMeta.RestoreTag(ctx, dr.ID, t)
			if errors.Is(err, meta.ErrNotFound) {
				rep.fail("tag %s in %s/%s: its manifest %s is not on the destination (it failed, or was pushed during the migration: run it again)", t.Name, sr.AccountID, sr.Name, t.Digest)
				continue
			}
			if err != nil {
				return fmt.Errorf("destination: tag %s: %w", t.Name, err)
			}
			rep.copied(KindTags, 1)
		}
		if len(tags) < page {
			break
		}
		after = tags[len(tags)-1].Name
	}
	for _, name := range slices.Sorted(maps.Keys(have)) {
		rep.extra("tag %s in %s/%s (-> %s)", name, sr.AccountID, sr.Name, have[name].Digest)
	}
	return nil
}

func sameEvent(a, b meta.TagEvent) bool {
	return a.Tag == b.Tag && a.From == b.From && a.To == b.To && a.At.Equal(b.At) && a.Actor == b.Actor && a.Via == b.Via
}

// copyTagEvents appends to the destination's tag history what it lacks of
// the source's: the destination's history must be a prefix of the
// source's (an earlier run's copy), so nothing is ever duplicated.
func (c *Copier) copyTagEvents(ctx context.Context, rep *Report, sr, dr meta.Repository) error {
	for offset := 0; ; offset += page {
		src, err := c.SrcMeta.ListTagEvents(ctx, sr.ID, offset, page)
		if err != nil {
			return fmt.Errorf("source: tag history: %w", err)
		}
		dst, err := c.DstMeta.ListTagEvents(ctx, dr.ID, offset, page)
		if err != nil {
			return fmt.Errorf("destination: tag history: %w", err)
		}
		n := min(len(src), len(dst))
		for i := 0; i < n; i++ {
			if !sameEvent(src[i], dst[i]) {
				rep.fail("tag history of %s/%s: the destination's event %d (%s %s->%s) differs from the source's; history not copied",
					sr.AccountID, sr.Name, offset+i+1, dst[i].Tag, dst[i].From, dst[i].To)
				return nil
			}
		}
		rep.skipped(KindTagEvents, int64(n))
		if len(dst) > len(src) {
			rep.extra("tag history of %s/%s: %d events after the source's", sr.AccountID, sr.Name, len(dst)-len(src))
			return nil
		}
		if rest := src[n:]; len(rest) > 0 {
			if err := c.DstMeta.AppendTagEvents(ctx, dr.ID, rest); err != nil {
				return fmt.Errorf("destination: append tag history: %w", err)
			}
			rep.copied(KindTagEvents, int64(len(rest)))
		}
		if len(src) < page {
			return nil
		}
	}
}

func (c *Copier) copyLifecyclePolicy(ctx context.Context, rep *Report, sr, dr meta.Repository) error {
	sp, err := c.SrcMeta.GetLifecyclePolicy(ctx, sr.ID)
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		return fmt.Errorf("source: lifecycle policy: %w", err)
	}
	dp, derr := c.DstMeta.GetLifecyclePolicy(ctx, dr.ID)
	if derr != nil && !errors.Is(derr, meta.ErrNotFound) {
		return fmt.Errorf("destination: lifecycle policy: %w", derr)
	}
	switch {
	case err != nil && derr != nil:
		return nil
	case err != nil:
		if _, err := c.DstMeta.DeleteLifecyclePolicy(ctx, dr.ID); err != nil && !errors.Is(err, meta.ErrNotFound) {
			return fmt.Errorf("destination: delete lifecycle policy: %w", err)
		}
		rep.removed(KindLifecyclePolicies, 1)
		return nil
	case derr == nil && dp.Text == sp.Text && dp.UpdatedAt.Equal(sp.UpdatedAt) && dp.LastEvaluatedAt.Equal(sp.LastEvaluatedAt):
		rep.skipped(KindLifecyclePolicies, 1)
		return nil
	}
	if err := c.DstMeta.PutLifecyclePolicy(ctx, meta.LifecyclePolicy{RepoID: dr.ID, Text: sp.Text, UpdatedAt: sp.UpdatedAt}); err != nil {
		return fmt.Errorf("destination: put lifecycle policy: %w", err)
	}
	if !sp.LastEvaluatedAt.IsZero() {
		if err := c.DstMeta.SetLifecycleEvaluated(ctx, dr.ID, sp.LastEvaluatedAt); err != nil {
			return fmt.Errorf("destination: lifecycle evaluation time: %w", err)
		}
	}
	rep.copied(KindLifecyclePolicies, 1)
	return nil
}

// copyResourceTags copies the resource tags of every ARN the source has
// (verbatim: keep the region when moving a registry), dropping keys the
// source does not have. ARNs only the destination has are reported.
func (c *Copier) copyResourceTags(ctx context.Context, rep *Report) error {
	src, err := c.SrcMeta.ListTaggedResources(ctx)
	if err != nil {
		return fmt.Errorf("source: list tagged resources: %w", err)
	}
	dst, err := c.DstMeta.ListTaggedResources(ctx)
	if err != nil {
		return fmt.Errorf("destination: list tagged resources: %w", err)
	}
	for _, arn := range src {
		st, err := c.SrcMeta.ListResourceTags(ctx, arn)
		if err != nil {
			return fmt.Errorf("source: resource tags of %s: %w", arn, err)
		}
		dt, err := c.DstMeta.ListResourceTags(ctx, arn)
		if err != nil {
			return fmt.Errorf("destination: resource tags of %s: %w", arn, err)
		}
		put := map[string]string{}
		var drop []string
		for k, v := range st {
			if w, ok := dt[k]; ok && w == v {
				rep.skipped(KindResourceTags, 1)
			} else {
				put[k] = v
			}
		}
		for k := range dt {
			if _, ok := st[k]; !ok {
				drop = append(drop, k)
			}
		}
		if len(put) > 0 {
			if err := c.DstMeta.PutResourceTags(ctx, arn, put); err != nil {
				return fmt.Errorf("destination: resource tags of %s: %w", arn, err)
			}
			rep.copied(KindResourceTags, int64(len(put)))
		}
		if len(drop) > 0 {
			slices.Sort(drop)
			if err := c.DstMeta.DeleteResourceTags(ctx, arn, drop); err != nil {
				return fmt.Errorf("destination: resource tags of %s: %w", arn, err)
			}
			rep.removed(KindResourceTags, int64(len(drop)))
		}
	}
	for _, arn := range dst {
		if _, found := slices.BinarySearch(src, arn); !found {
			rep.extra("resource tags of %s", arn)
		}
	}
	return nil
}

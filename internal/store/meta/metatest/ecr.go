package metatest

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// The ECR control plane: IAM users, policies, settings, images.

const otherAccount = "210987654321"

// IAM.

func testUsers(t *testing.T, s meta.Store) {
	c := ctx(t)
	must(t, s.CreateUser(c, meta.User{AccountID: account, Name: "bob", CreatedAt: fixed}))
	names := []string{"bob", "alice", "Zed", "al-ice", "team.ci"}
	for _, n := range names[1:] {
		must(t, s.CreateUser(c, meta.User{AccountID: account, Name: n}))
	}
	wantErr(t, s.CreateUser(c, meta.User{AccountID: account, Name: "bob"}), meta.ErrExists)
	// The same name in another account is another user.
	must(t, s.CreateUser(c, meta.User{AccountID: otherAccount, Name: "bob"}))
	// "" is the account's root principal, never a user.
	if err := s.CreateUser(c, meta.User{AccountID: account, Name: ""}); err == nil {
		t.Fatal("created a user with the empty name")
	}

	u, err := s.GetUser(c, account, "bob")
	must(t, err)
	equal(t, "account", u.AccountID, account)
	equal(t, "name", u.Name, "bob")
	if !u.CreatedAt.Equal(fixed) {
		t.Fatalf("created at %v, want %v", u.CreatedAt, fixed)
	}
	u, err = s.GetUser(c, account, "alice")
	must(t, err)
	if u.CreatedAt.IsZero() {
		t.Fatal("zero CreatedAt was not defaulted to now")
	}
	_, err = s.GetUser(c, account, "carol")
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.GetUser(c, "999999999999", "alice")
	wantErr(t, err, meta.ErrNotFound)

	all, err := s.ListUsers(c, account)
	must(t, err)
	var got []string
	for _, u := range all {
		equal(t, "account of "+u.Name, u.AccountID, account)
		got = append(got, u.Name)
	}
	want := slices.Clone(names)
	sort.Strings(want) // byte order
	equalSlice(t, "users", got, want)
	none, err := s.ListUsers(c, "999999999999")
	must(t, err)
	equal(t, "users of unknown account", len(none), 0)
}

func testDeleteUserCascade(t *testing.T, s meta.Store) {
	c := ctx(t)
	for _, u := range []meta.User{{AccountID: account, Name: "alice"}, {AccountID: account, Name: "bob"}, {AccountID: otherAccount, Name: "alice"}} {
		must(t, s.CreateUser(c, u))
	}
	for _, k := range []meta.AccessKey{
		{AccessKeyID: "AKIAALICE1", AccountID: account, UserName: "alice"},
		{AccessKeyID: "AKIAALICE2", AccountID: account, UserName: "alice"},
		{AccessKeyID: "AKIABOB", AccountID: account, UserName: "bob"},
		{AccessKeyID: "AKIAROOT", AccountID: account},
		{AccessKeyID: "AKIAOTHER", AccountID: otherAccount, UserName: "alice"},
	} {
		k.Secret, k.Active = "secret", true
		must(t, s.PutAccessKey(c, k))
	}
	for _, p := range []meta.UserPolicy{
		{AccountID: account, UserName: "alice", Name: "p1", Document: "{}"},
		{AccountID: account, UserName: "alice", Name: "p2", Document: "{}"},
		{AccountID: account, UserName: "bob", Name: "p1", Document: "{}"},
		{AccountID: otherAccount, UserName: "alice", Name: "p1", Document: "{}"},
	} {
		must(t, s.PutUserPolicy(c, p))
	}

	must(t, s.DeleteUser(c, account, "alice"))
	_, err := s.GetUser(c, account, "alice")
	wantErr(t, err, meta.ErrNotFound)
	for _, id := range []string{"AKIAALICE1", "AKIAALICE2"} {
		_, err := s.GetAccessKey(c, id)
		wantErr(t, err, meta.ErrNotFound)
	}
	keys, err := s.ListAccessKeys(c, account, "alice")
	must(t, err)
	equal(t, "keys of deleted user", len(keys), 0)
	pols, err := s.ListUserPolicies(c, account, "alice")
	must(t, err)
	equal(t, "policies of deleted user", len(pols), 0)

	// Other users, the root and the same name in another account keep
	// theirs.
	for _, id := range []string{"AKIABOB", "AKIAROOT", "AKIAOTHER"} {
		_, err := s.GetAccessKey(c, id)
		must(t, err)
	}
	_, err = s.GetUser(c, otherAccount, "alice")
	must(t, err)
	equal(t, "policies of bob", len(policyNames(t, s, account, "bob")), 1)
	equal(t, "policies of the other alice", len(policyNames(t, s, otherAccount, "alice")), 1)

	wantErr(t, s.DeleteUser(c, account, "alice"), meta.ErrNotFound)
	// The root is no user: its keys cannot be deleted this way.
	wantErr(t, s.DeleteUser(c, account, ""), meta.ErrNotFound)
	_, err = s.GetAccessKey(c, "AKIAROOT")
	must(t, err)

	// A user created again under the name starts with nothing.
	must(t, s.CreateUser(c, meta.User{AccountID: account, Name: "alice"}))
	equal(t, "policies of new alice", len(policyNames(t, s, account, "alice")), 0)
	keys, err = s.ListAccessKeys(c, account, "alice")
	must(t, err)
	equal(t, "keys of new alice", len(keys), 0)
}

func policyNames(t *testing.T, s meta.Store, accountID, user string) []string {
	t.Helper()
	ps, err := s.ListUserPolicies(ctx(t), accountID, user)
	must(t, err)
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func keyIDs(t *testing.T, s meta.Store, accountID, user string) []string {
	t.Helper()
	ks, err := s.ListAccessKeys(ctx(t), accountID, user)
	must(t, err)
	var out []string
	for _, k := range ks {
		out = append(out, k.AccessKeyID)
	}
	return out
}

func testListDeleteAccessKeys(t *testing.T, s meta.Store) {
	c := ctx(t)
	must(t, s.CreateUser(c, meta.User{AccountID: account, Name: "alice"}))
	for _, k := range []meta.AccessKey{
		{AccessKeyID: "AKIAZZZ", AccountID: account},
		{AccessKeyID: "AKIA111", AccountID: account, Secret: "s1", Active: true, CreatedAt: fixed},
		{AccessKeyID: "AKIABBB", AccountID: account},
		{AccessKeyID: "AKIACCC", AccountID: account, UserName: "alice"},
		{AccessKeyID: "AKIAXXX", AccountID: otherAccount},
	} {
		must(t, s.PutAccessKey(c, k))
	}
	equalSlice(t, "root keys", keyIDs(t, s, account, ""), []string{"AKIA111", "AKIABBB", "AKIAZZZ"})
	equalSlice(t, "alice's keys", keyIDs(t, s, account, "alice"), []string{"AKIACCC"})
	equalSlice(t, "other account's root keys", keyIDs(t, s, otherAccount, ""), []string{"AKIAXXX"})
	equal(t, "keys of unknown user", len(keyIDs(t, s, account, "nobody")), 0)

	ks, err := s.ListAccessKeys(c, account, "")
	must(t, err)
	k := ks[0]
	if k.Secret != "s1" || !k.Active || k.AccountID != account || k.UserName != "" || !k.CreatedAt.Equal(fixed) {
		t.Fatalf("listed key %+v", k)
	}
	ks, err = s.ListAccessKeys(c, account, "alice")
	must(t, err)
	equal(t, "user of alice's key", ks[0].UserName, "alice")

	must(t, s.DeleteAccessKey(c, "AKIABBB"))
	equalSlice(t, "root keys after delete", keyIDs(t, s, account, ""), []string{"AKIA111", "AKIAZZZ"})
	_, err = s.GetAccessKey(c, "AKIABBB")
	wantErr(t, err, meta.ErrNotFound)
	wantErr(t, s.DeleteAccessKey(c, "AKIABBB"), meta.ErrNotFound)
	wantErr(t, s.DeleteAccessKey(c, "AKIANEVER"), meta.ErrNotFound)
}

func testUserPolicies(t *testing.T, s meta.Store) {
	c := ctx(t)
	must(t, s.CreateUser(c, meta.User{AccountID: account, Name: "alice"}))
	must(t, s.CreateUser(c, meta.User{AccountID: account, Name: "bob"}))
	wantErr(t, s.PutUserPolicy(c, meta.UserPolicy{AccountID: account, UserName: "carol", Name: "p", Document: "{}"}), meta.ErrNotFound)
	wantErr(t, s.PutUserPolicy(c, meta.UserPolicy{AccountID: otherAccount, UserName: "alice", Name: "p", Document: "{}"}), meta.ErrNotFound)
	equal(t, "policies of unknown user", len(policyNames(t, s, account, "carol")), 0)

	for _, n := range []string{"pull", "Push", "admin", "pull-2"} {
		must(t, s.PutUserPolicy(c, meta.UserPolicy{AccountID: account, UserName: "alice", Name: n, Document: `{"v":1}`}))
	}
	// Replace.
	must(t, s.PutUserPolicy(c, meta.UserPolicy{AccountID: account, UserName: "alice", Name: "pull", Document: `{"v":2}`}))
	ps, err := s.ListUserPolicies(c, account, "alice")
	must(t, err)
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
		equal(t, "account of "+p.Name, p.AccountID, account)
		equal(t, "user of "+p.Name, p.UserName, "alice")
		want := `{"v":1}`
		if p.Name == "pull" {
			want = `{"v":2}`
		}
		equal(t, "document of "+p.Name, p.Document, want)
	}
	equalSlice(t, "alice's policies", names, []string{"Push", "admin", "pull", "pull-2"})
	equal(t, "bob's policies", len(policyNames(t, s, account, "bob")), 0)
	must(t, s.PutUserPolicy(c, meta.UserPolicy{AccountID: account, UserName: "bob", Name: "pull", Document: "{}"}))
	equalSlice(t, "bob's policies", policyNames(t, s, account, "bob"), []string{"pull"})

	must(t, s.DeleteUserPolicy(c, account, "alice", "admin"))
	equalSlice(t, "after delete", policyNames(t, s, account, "alice"), []string{"Push", "pull", "pull-2"})
	wantErr(t, s.DeleteUserPolicy(c, account, "alice", "admin"), meta.ErrNotFound)
	wantErr(t, s.DeleteUserPolicy(c, account, "bob", "Push"), meta.ErrNotFound)
	equalSlice(t, "bob's policies after deletes", policyNames(t, s, account, "bob"), []string{"pull"})
}

// Repository settings and registry-wide settings.

func testUpdateRepository(t *testing.T, s meta.Store) {
	c := ctx(t)
	r, err := s.CreateRepository(c, meta.Repository{AccountID: account, Name: "app", CreatedAt: fixed,
		TagMutability: "MUTABLE", Policy: `{"v":0}`, ScanFilter: `[{"f":0}]`})
	must(t, err)
	got, err := s.GetRepository(c, account, "app")
	must(t, err)
	equal(t, "created policy", got.Policy, `{"v":0}`)
	equal(t, "created scan filter", got.ScanFilter, `[{"f":0}]`)
	other := repo(t, s, "other")

	upd := meta.Repository{
		ID: r.ID,
		// Ignored: the repository is not renamed, moved nor re-dated.
		AccountID: "999999999999", Name: "renamed", CreatedAt: fixed.Add(time.Hour),
		TagMutability: "IMMUTABLE_WITH_EXCLUSION", MutabilityRule: `[{"filter":"dev-*"}]`,
		ScanOnPush: true, EncryptionType: "KMS", KMSKey: "arn:aws:kms:key/2",
		Policy: `{"v":1}`, ScanFilter: `[{"f":1}]`,
	}
	must(t, s.UpdateRepository(c, upd))
	want := upd
	want.AccountID, want.Name, want.CreatedAt = account, "app", fixed
	got, err = s.GetRepository(c, account, "app")
	must(t, err)
	if !got.CreatedAt.Equal(fixed) {
		t.Fatalf("created at %v, want %v", got.CreatedAt, fixed)
	}
	got.CreatedAt = fixed
	equal(t, "updated repository", got, want)
	_, err = s.GetRepository(c, account, "renamed")
	wantErr(t, err, meta.ErrNotFound)
	list, err := s.ListRepositories(c, account, "", 0)
	must(t, err)
	if len(list) != 2 || list[0].Name != "app" || list[0].Policy != `{"v":1}` || list[0].ScanFilter != `[{"f":1}]` {
		t.Fatalf("listed %+v", list)
	}

	// The other repository is untouched.
	o, err := s.GetRepository(c, account, "other")
	must(t, err)
	o.CreatedAt = other.CreatedAt
	equal(t, "other repository", o, other)

	// Zero values are written too: settings can be cleared.
	must(t, s.UpdateRepository(c, meta.Repository{ID: r.ID, TagMutability: "MUTABLE"}))
	got, err = s.GetRepository(c, account, "app")
	must(t, err)
	got.CreatedAt = time.Time{}
	equal(t, "cleared repository", got, meta.Repository{ID: r.ID, AccountID: account, Name: "app", TagMutability: "MUTABLE"})

	wantErr(t, s.UpdateRepository(c, meta.Repository{ID: 987654, Policy: "{}"}), meta.ErrNotFound)
	must(t, s.DeleteRepository(c, r.ID, false))
	wantErr(t, s.UpdateRepository(c, upd), meta.ErrNotFound)
}

func testResourceTags(t *testing.T, s meta.Store) {
	c := ctx(t)
	arn := "arn:aws:ecr:us-east-1:" + account + ":repository/app"
	arn2 := "arn:aws:ecr:us-east-1:" + account + ":repository/app2"
	tagsOf := func(arn string) map[string]string {
		t.Helper()
		m, err := s.ListResourceTags(c, arn)
		must(t, err)
		if m == nil {
			t.Fatalf("tags of %s: nil map", arn)
		}
		return m
	}
	wantTags := func(arn string, want map[string]string) {
		t.Helper()
		if got := tagsOf(arn); !maps.Equal(got, want) {
			t.Fatalf("tags of %s: got %v, want %v", arn, got, want)
		}
	}
	wantTags(arn, map[string]string{})

	must(t, s.PutResourceTags(c, arn, map[string]string{"env": "dev", "team": "a"}))
	must(t, s.PutResourceTags(c, arn, map[string]string{"team": "b", "cost": "1", "Team": "c"}))
	must(t, s.PutResourceTags(c, arn2, map[string]string{"env": "prod"}))
	must(t, s.PutResourceTags(c, arn, map[string]string{}))
	wantTags(arn, map[string]string{"env": "dev", "team": "b", "cost": "1", "Team": "c"})
	wantTags(arn2, map[string]string{"env": "prod"})

	must(t, s.DeleteResourceTags(c, arn, []string{"env", "missing", "Team"}))
	must(t, s.DeleteResourceTags(c, arn, nil))
	wantTags(arn, map[string]string{"team": "b", "cost": "1"})
	wantTags(arn2, map[string]string{"env": "prod"})
	must(t, s.DeleteResourceTags(c, arn, []string{"team", "cost"}))
	wantTags(arn, map[string]string{})
	must(t, s.DeleteResourceTags(c, "arn:none", []string{"x"}))
}

func testRegistryPolicy(t *testing.T, s meta.Store) {
	c := ctx(t)
	_, err := s.GetRegistryPolicy(c, account)
	wantErr(t, err, meta.ErrNotFound)
	wantErr(t, s.DeleteRegistryPolicy(c, account), meta.ErrNotFound)

	must(t, s.PutRegistryPolicy(c, account, `{"v":1}`))
	doc, err := s.GetRegistryPolicy(c, account)
	must(t, err)
	equal(t, "policy", doc, `{"v":1}`)
	must(t, s.PutRegistryPolicy(c, account, `{"v":2}`))
	doc, err = s.GetRegistryPolicy(c, account)
	must(t, err)
	equal(t, "replaced policy", doc, `{"v":2}`)
	_, err = s.GetRegistryPolicy(c, otherAccount)
	wantErr(t, err, meta.ErrNotFound)
	wantErr(t, s.DeleteRegistryPolicy(c, otherAccount), meta.ErrNotFound)

	must(t, s.DeleteRegistryPolicy(c, account))
	_, err = s.GetRegistryPolicy(c, account)
	wantErr(t, err, meta.ErrNotFound)
	wantErr(t, s.DeleteRegistryPolicy(c, account), meta.ErrNotFound)
}

func testAccountSettings(t *testing.T, s meta.Store) {
	c := ctx(t)
	_, err := s.GetAccountSetting(c, account, "BASIC_SCAN_TYPE_VERSION")
	wantErr(t, err, meta.ErrNotFound)
	must(t, s.PutAccountSetting(c, account, "BASIC_SCAN_TYPE_VERSION", "AWS_NATIVE"))
	must(t, s.PutAccountSetting(c, account, "BASIC_SCAN_TYPE_VERSION", "CLAIR"))
	must(t, s.PutAccountSetting(c, account, "REGISTRY_POLICY_SCOPE", "V2"))
	for name, want := range map[string]string{"BASIC_SCAN_TYPE_VERSION": "CLAIR", "REGISTRY_POLICY_SCOPE": "V2"} {
		v, err := s.GetAccountSetting(c, account, name)
		must(t, err)
		equal(t, name, v, want)
	}
	_, err = s.GetAccountSetting(c, otherAccount, "REGISTRY_POLICY_SCOPE")
	wantErr(t, err, meta.ErrNotFound)
}

func templatePrefixes(t *testing.T, s meta.Store, accountID string) []string {
	t.Helper()
	ts, err := s.ListCreationTemplates(ctx(t), accountID)
	must(t, err)
	var out []string
	for _, tp := range ts {
		equal(t, "account of "+tp.Prefix, tp.AccountID, accountID)
		out = append(out, tp.Prefix)
	}
	return out
}

func testCreationTemplates(t *testing.T, s meta.Store) {
	c := ctx(t)
	_, err := s.GetCreationTemplate(c, account, "team/")
	wantErr(t, err, meta.ErrNotFound)
	wantErr(t, s.UpdateCreationTemplate(c, meta.CreationTemplate{AccountID: account, Prefix: "team/", Body: []byte("{}")}), meta.ErrNotFound)
	wantErr(t, s.DeleteCreationTemplate(c, account, "team/"), meta.ErrNotFound)
	equal(t, "no templates", len(templatePrefixes(t, s, account)), 0)

	must(t, s.CreateCreationTemplate(c, meta.CreationTemplate{AccountID: account, Prefix: "team/", Body: []byte(`{"v":1}`), CreatedAt: fixed}))
	tp, err := s.GetCreationTemplate(c, account, "team/")
	must(t, err)
	equal(t, "prefix", tp.Prefix, "team/")
	equal(t, "account", tp.AccountID, account)
	equal(t, "body", string(tp.Body), `{"v":1}`)
	if !tp.CreatedAt.Equal(fixed) || tp.UpdatedAt.IsZero() {
		t.Fatalf("created at %v (want %v), updated at %v", tp.CreatedAt, fixed, tp.UpdatedAt)
	}
	wantErr(t, s.CreateCreationTemplate(c, meta.CreationTemplate{AccountID: account, Prefix: "team/", Body: []byte(`{"v":9}`)}), meta.ErrExists)
	tp, err = s.GetCreationTemplate(c, account, "team/")
	must(t, err)
	equal(t, "body after failed create", string(tp.Body), `{"v":1}`)

	must(t, s.CreateCreationTemplate(c, meta.CreationTemplate{AccountID: otherAccount, Prefix: "team/", Body: []byte(`{"other":true}`)}))
	for _, p := range []string{"ROOT", "prod/", "prod-"} {
		must(t, s.CreateCreationTemplate(c, meta.CreationTemplate{AccountID: account, Prefix: p, Body: []byte(`{}`)}))
	}
	tp, err = s.GetCreationTemplate(c, account, "ROOT")
	must(t, err)
	if tp.CreatedAt.IsZero() || tp.UpdatedAt.IsZero() {
		t.Fatalf("zero times not defaulted: %+v", tp)
	}

	before := time.Now().Add(-time.Second)
	must(t, s.UpdateCreationTemplate(c, meta.CreationTemplate{AccountID: account, Prefix: "team/", Body: []byte(`{"v":2}`)}))
	tp, err = s.GetCreationTemplate(c, account, "team/")
	must(t, err)
	equal(t, "updated body", string(tp.Body), `{"v":2}`)
	if !tp.CreatedAt.Equal(fixed) {
		t.Fatalf("update changed created at to %v", tp.CreatedAt)
	}
	if tp.UpdatedAt.Before(before) {
		t.Fatalf("updated at %v not moved to now", tp.UpdatedAt)
	}
	ot, err := s.GetCreationTemplate(c, otherAccount, "team/")
	must(t, err)
	equal(t, "other account's body", string(ot.Body), `{"other":true}`)

	equalSlice(t, "templates", templatePrefixes(t, s, account), []string{"ROOT", "prod-", "prod/", "team/"})
	equalSlice(t, "other account's templates", templatePrefixes(t, s, otherAccount), []string{"team/"})

	must(t, s.DeleteCreationTemplate(c, account, "prod-"))
	wantErr(t, s.DeleteCreationTemplate(c, account, "prod-"), meta.ErrNotFound)
	_, err = s.GetCreationTemplate(c, account, "prod-")
	wantErr(t, err, meta.ErrNotFound)
	equalSlice(t, "templates after delete", templatePrefixes(t, s, account), []string{"ROOT", "prod/", "team/"})
	must(t, s.CreateCreationTemplate(c, meta.CreationTemplate{AccountID: account, Prefix: "prod-", Body: []byte(`{}`)}))
}

// Images.

// tagImage points tag at image(seed), whose blobs are linked already.
func tagImage(t *testing.T, s meta.Store, repoID int64, seed, tag string) {
	t.Helper()
	m, refs := image(repoID, seed)
	must(t, s.PutManifest(ctx(t), meta.PutManifest{Manifest: m, Refs: refs, Tag: tag}))
}

// imageLines renders images as "digest tag,tag" lines for comparison.
func imageLines(ims []meta.Image) []string {
	var out []string
	for _, im := range ims {
		out = append(out, im.Digest+" "+strings.Join(im.Tags, ","))
	}
	return out
}

func wantLines(want map[string][]string) []string {
	var out []string
	for d, tags := range want {
		tags = slices.Clone(tags)
		sort.Strings(tags)
		out = append(out, d+" "+strings.Join(tags, ","))
	}
	sort.Strings(out) // by digest: every digest has the same length
	return out
}

func testListImages(t *testing.T, s meta.Store) {
	c := ctx(t)
	r, other := repo(t, s, "app"), repo(t, s, "other")
	a := push(t, s, r.ID, "a", "v1")
	tagImage(t, s, r.ID, "a", "latest")
	tagImage(t, s, r.ID, "a", "V2")
	b := push(t, s, r.ID, "b", "")
	cm := push(t, s, r.ID, "c", "c1")
	tagImage(t, s, r.ID, "c", "v1") // moves v1 from a to c
	// The same image in another repository, with its own tag.
	push(t, s, other.ID, "a", "foreign")

	ims, err := s.ListImages(c, r.ID, "", 0)
	must(t, err)
	equalSlice(t, "images", imageLines(ims), wantLines(map[string][]string{
		a.Digest:  {"latest", "V2"},
		b.Digest:  nil,
		cm.Digest: {"c1", "v1"},
	}))
	byDigest := map[string]meta.Manifest{a.Digest: a, b.Digest: b, cm.Digest: cm}
	for _, im := range ims {
		m := byDigest[im.Digest]
		if im.RepoID != r.ID || im.MediaType != m.MediaType || im.ConfigDigest != m.ConfigDigest || im.Size != m.Size {
			t.Fatalf("image %+v, want %+v", im.Manifest, m)
		}
		if string(im.Content) != string(m.Content) {
			t.Fatalf("image %s listed with content %q, want %q", im.Digest, im.Content, m.Content)
		}
		if im.PushedAt.IsZero() {
			t.Fatalf("image %s: zero push time", im.Digest)
		}
	}

	ims, err = s.ListImages(c, other.ID, "", 0)
	must(t, err)
	equalSlice(t, "images of other", imageLines(ims), []string{a.Digest + " foreign"})

	// Deleting a tag or a manifest shows.
	must(t, s.DeleteTag(c, r.ID, "c1", "", ""))
	must(t, s.DeleteManifest(c, r.ID, a.Digest, "", ""))
	ims, err = s.ListImages(c, r.ID, "", 0)
	must(t, err)
	equalSlice(t, "images after deletes", imageLines(ims), wantLines(map[string][]string{
		b.Digest:  nil,
		cm.Digest: {"v1"},
	}))
}

func testListImagesPagination(t *testing.T, s meta.Store) {
	c := ctx(t)
	r, other := repo(t, s, "app"), repo(t, s, "other")
	want := map[string][]string{}
	for i := range 9 {
		seed := fmt.Sprint("img", i)
		var tags []string
		switch i % 3 {
		case 0:
			tags = []string{fmt.Sprint("t", i), fmt.Sprint("e", i), "z" + seed}
		case 1:
			tags = []string{fmt.Sprint("t", i)}
		}
		m := push(t, s, r.ID, seed, "")
		for _, tag := range tags {
			tagImage(t, s, r.ID, seed, tag)
		}
		want[m.Digest] = tags
		// Images of another repository interleave with these by digest.
		push(t, s, other.ID, fmt.Sprint("other", i), fmt.Sprint("o", i))
	}
	all := wantLines(want)

	for _, limit := range []int{1, 2, 4, 100} {
		var got []string
		after := ""
		for range 20 {
			page, err := s.ListImages(c, r.ID, after, limit)
			must(t, err)
			if len(page) > limit {
				t.Fatalf("page of %d > limit %d", len(page), limit)
			}
			if len(page) == 0 {
				break
			}
			got = append(got, imageLines(page)...)
			after = page[len(page)-1].Digest
		}
		equalSlice(t, fmt.Sprintf("limit %d", limit), got, all)
	}
	page, err := s.ListImages(c, r.ID, "", 0)
	must(t, err)
	equalSlice(t, "limit 0", imageLines(page), all)

	// "after" need not be a digest of the repository.
	mid := strings.Fields(all[4])[0]
	after := mid[:len(mid)-1] // sorts just before mid
	page, err = s.ListImages(c, r.ID, after, 2)
	must(t, err)
	equalSlice(t, "after a non-digest", imageLines(page), all[4:6])
	page, err = s.ListImages(c, r.ID, strings.Fields(all[len(all)-1])[0], 0)
	must(t, err)
	equal(t, "after the last digest", len(page), 0)
}

func testGetImage(t *testing.T, s meta.Store) {
	c := ctx(t)
	r, other := repo(t, s, "app"), repo(t, s, "other")
	m := push(t, s, r.ID, "a", "v2")
	tagImage(t, s, r.ID, "a", "v1")
	tagImage(t, s, r.ID, "a", "latest")
	u := push(t, s, r.ID, "untagged", "")
	push(t, s, other.ID, "a", "foreign")

	im, err := s.GetImage(c, r.ID, m.Digest)
	must(t, err)
	equal(t, "digest", im.Digest, m.Digest)
	equal(t, "repo", im.RepoID, r.ID)
	equal(t, "content", string(im.Content), string(m.Content))
	equal(t, "media type", im.MediaType, m.MediaType)
	equal(t, "size", im.Size, m.Size)
	if im.PushedAt.IsZero() {
		t.Fatal("zero push time")
	}
	equalSlice(t, "tags", im.Tags, []string{"latest", "v1", "v2"})

	im, err = s.GetImage(c, r.ID, u.Digest)
	must(t, err)
	equal(t, "tags of untagged", len(im.Tags), 0)
	equal(t, "content of untagged", string(im.Content), string(u.Content))

	_, err = s.GetImage(c, r.ID, dg("none"))
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.GetImage(c, other.ID, u.Digest)
	wantErr(t, err, meta.ErrNotFound)
}

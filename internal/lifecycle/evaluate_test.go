package lifecycle

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestKeepLastTenOfTwelve(t *testing.T) {
	p := mustParse(t, policy(rule(1,
		`{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":10}`, expire)))
	var images []Image
	for i := 1; i <= 12; i++ { // v1 is the oldest
		images = append(images, img(fmt.Sprintf("v%d", i), float64(100-i), fmt.Sprintf("v%d.0", i)))
	}
	images = append(images, img("latest", 200, "latest"), img("untagged", 300))
	checkActions(t, Evaluate(p, images, now), "v1:EXPIRE:1", "v2:EXPIRE:1")
}

func TestUntaggedAfterDays(t *testing.T) {
	p := mustParse(t, policy(rule(1,
		`{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7}`, expire)))
	images := []Image{
		img("u8", 8),
		img("u7-and-a-bit", 7.01),
		img("u6", 6.99),
		img("t100", 100, "v1"),
	}
	checkActions(t, Evaluate(p, images, now), "u7-and-a-bit:EXPIRE:1", "u8:EXPIRE:1")
	// exactly N days is not older than N days
	checkActions(t, Evaluate(p, []Image{img("u7", 7)}, now))
}

// "180 days for everything, keep the 5 newest feature-branch images,
// untagged after 1 day". The 5 newest feature images are identified by
// rule 1, so rule 3 cannot expire them even when they are older than 180
// days: ECR's "an image that matches the tagging requirements of a rule
// cannot be expired by a rule with a lower priority".
func TestProductionPolicy(t *testing.T) {
	p := mustParse(t, policy(
		rule(1, `{"tagStatus":"tagged","tagPatternList":["feature-*"],"countType":"imageCountMoreThan","countNumber":5}`, expire),
		rule(2, `{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1}`, expire),
		rule(3, `{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":180}`, expire),
	))
	images := []Image{
		img("f1", 1, "feature-login"),
		img("f2", 2, "feature-cart"),
		img("f3", 3, "feature-search"),
		img("f4", 4, "feature-api"),
		img("f200", 200, "feature-old-but-in-top-5"),
		img("f250", 250, "feature-older"),
		img("f300", 300, "feature-oldest"),
		img("u2", 2),
		img("u-half", 0.5),
		img("rel200", 200, "v1.0.0"),
		img("rel100", 100, "v2.0.0"),
		img("main181", 181, "main"),
	}
	checkActions(t, Evaluate(p, images, now),
		"f250:EXPIRE:1", "f300:EXPIRE:1",
		"u2:EXPIRE:2",
		"rel200:EXPIRE:3", "main181:EXPIRE:3",
	)
}

// The prod- tag is removed from an image by mistake. The protecting rule
// no longer identifies it, so a lower rule now acts on it: as an untagged
// image it falls to the untagged rule, re-tagged with another name to the
// "any" rule.
func TestProdTagRemovedByMistake(t *testing.T) {
	p := mustParse(t, policy(
		rule(1, `{"tagStatus":"tagged","tagPrefixList":["prod-"],"countType":"imageCountMoreThan","countNumber":1000}`, expire),
		rule(2, `{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7}`, expire),
		rule(3, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":3}`, expire),
	))
	others := []Image{
		img("prod2", 50, "prod-2"),
		img("dev1", 5, "dev-1"),
		img("dev2", 4, "dev-2"),
		img("dev3", 3, "dev-3"),
	}
	run := func(p1 Image) []Action { return Evaluate(p, append([]Image{p1}, others...), now) }

	t.Run("tag intact: protected", func(t *testing.T) {
		checkActions(t, run(img("prod1", 60, "prod-1")))
	})
	t.Run("tag removed: untagged rule expires it", func(t *testing.T) {
		checkActions(t, run(img("prod1", 60)), "prod1:EXPIRE:2")
	})
	t.Run("renamed tag: any rule counts it and expires it", func(t *testing.T) {
		// rule 3 sees all five images (prod2 included, as ECR counts
		// images identified by higher rules) and keeps dev1..dev3.
		checkActions(t, run(img("prod1", 60, "old-prod-1")), "prod1:EXPIRE:3")
	})
}

// An image with tags matched by two rules belongs to the first one.
func TestMultiTagImageMatchedByTwoRules(t *testing.T) {
	images := []Image{
		img("M", 40, "prod-1", "dev-7"),
		img("D8", 10, "dev-8"),
	}
	prodFirst := mustParse(t, policy(
		rule(1, `{"tagStatus":"tagged","tagPatternList":["prod*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":90}`, expire),
		rule(2, `{"tagStatus":"tagged","tagPatternList":["dev*"],"countType":"imageCountMoreThan","countNumber":1}`, expire),
	))
	// rule 2 marks M (D8 is newer) but rule 1 identified M first.
	checkActions(t, Evaluate(prodFirst, images, now))

	devFirst := mustParse(t, policy(
		rule(1, `{"tagStatus":"tagged","tagPatternList":["dev*"],"countType":"imageCountMoreThan","countNumber":1}`, expire),
		rule(2, `{"tagStatus":"tagged","tagPatternList":["prod*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":90}`, expire),
	))
	checkActions(t, Evaluate(devFirst, images, now), "M:EXPIRE:1")
	a := Evaluate(devFirst, images, now)[0]
	if !slices.Equal(a.Tags, []string{"prod-1", "dev-7"}) {
		t.Errorf("tags %q", a.Tags)
	}
}

func TestSinceImageTaggedKeepsRetaggedImage(t *testing.T) {
	old := img("old", 400, "stable")
	old.LastTaggedAt = ago(2) // re-tagged two days ago
	images := []Image{old, img("other", 40, "x")}

	byTag := mustParse(t, policy(rule(1,
		`{"tagStatus":"any","countType":"sinceImageTagged","countUnit":"days","countNumber":30}`, expire)))
	checkActions(t, Evaluate(byTag, images, now), "other:EXPIRE:1")

	byPush := mustParse(t, policy(rule(1,
		`{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":30}`, expire)))
	checkActions(t, Evaluate(byPush, images, now), "old:EXPIRE:1", "other:EXPIRE:1")
}

func child(digest, parent string, days float64, tags ...string) Image {
	im := img(digest, days, tags...)
	im.ParentIndex = parent
	return im
}

func referrer(digest, subject string, days float64, tags ...string) Image {
	im := img(digest, days, tags...)
	im.Subject = subject
	return im
}

func TestIndexChildrenAndReferrers(t *testing.T) {
	p := mustParse(t, policy(
		rule(1, `{"tagStatus":"tagged","tagPatternList":["v*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":30}`, expire),
		rule(2, `{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1}`, expire),
	))
	family := func(indexDays float64) []Image {
		return []Image{
			img("I", indexDays, "v1"),
			child("I-amd64", "I", indexDays),
			child("I-arm64", "I", indexDays),
			referrer("I-sig", "I", indexDays),              // signature of the index
			referrer("amd64-sbom", "I-amd64", indexDays),   // SBOM of a child
			referrer("sig-of-sig", "I-sig", indexDays),     // referrer of a referrer
			referrer("tagged-sig", "I", 400, "sha256.sig"), // tagged referrer
			child("I-nested", "I", indexDays),              // nested index
			child("nested-c", "I-nested", indexDays),
		}
	}

	t.Run("index stays: old untagged children and referrers stay", func(t *testing.T) {
		checkActions(t, Evaluate(p, family(10), now))
	})
	t.Run("index expires: everything attached goes with it", func(t *testing.T) {
		checkActions(t, Evaluate(p, family(40), now),
			"I:EXPIRE:1", "I-amd64:EXPIRE:1", "I-arm64:EXPIRE:1", "I-sig:EXPIRE:1",
			"amd64-sbom:EXPIRE:1", "sig-of-sig:EXPIRE:1", "tagged-sig:EXPIRE:1",
			"I-nested:EXPIRE:1", "nested-c:EXPIRE:1")
	})
	t.Run("children and referrers do not count", func(t *testing.T) {
		keep1 := mustParse(t, policy(rule(1, `{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1}`, expire)))
		images := append(family(10), img("U", 5))
		checkActions(t, Evaluate(keep1, images, now))
	})
	t.Run("child shared with a surviving index stays", func(t *testing.T) {
		images := []Image{
			img("old", 40, "v1"),
			img("new", 2, "v2"),
			child("shared", "old", 40),
			child("shared", "new", 40),
			child("only-old", "old", 40),
		}
		checkActions(t, Evaluate(p, images, now), "old:EXPIRE:1", "only-old:EXPIRE:1")
	})
	t.Run("tagged child: its own tags decide, but never while its index stays", func(t *testing.T) {
		images := []Image{
			img("old", 40, "v1"),
			child("amd64", "old", 40, "v1-amd64"), // v* and old: expires with its index
			child("keep", "old", 40, "keep-me"),   // no rule selects it: stays
			img("new", 2, "v2"),
			child("new-amd64", "new", 40, "v2-amd64"), // old enough, but its index stays
		}
		checkActions(t, Evaluate(p, images, now), "old:EXPIRE:1", "amd64:EXPIRE:1")
	})
	t.Run("orphan child is an ordinary image", func(t *testing.T) {
		checkActions(t, Evaluate(p, []Image{child("orphan", "gone", 5)}, now), "orphan:EXPIRE:2")
	})
	t.Run("referrer of a missing subject is left alone", func(t *testing.T) {
		checkActions(t, Evaluate(p, []Image{referrer("dangling", "gone", 500)}, now))
	})
}

func TestIndexTransitionAndArchivedExpiry(t *testing.T) {
	p := mustParse(t, policy(
		rule(1, `{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":30}`, transition),
		rule(2, `{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90}`, expire),
	))
	arch := func(im Image, days float64) Image {
		im.StorageClass = StorageClassArchive
		im.TransitionedAt = ago(days)
		return im
	}
	images := []Image{
		// a standard index: it and its child move to archive together
		img("I", 40, "v1"),
		child("I-c", "I", 40),
		referrer("I-sig", "I", 40),
		// an archived index past 90 days in archive: deleted with its child
		arch(img("J", 400, "v0"), 100),
		arch(child("J-c", "J", 400), 100),
		// archived child of a standard index that is not old enough
		img("K", 10, "v2"),
		arch(child("K-c", "K", 400), 100),
	}
	checkActions(t, Evaluate(p, images, now),
		"I:TRANSITION:1", "I-c:TRANSITION:1", "I-sig:TRANSITION:1",
		"J:EXPIRE:2", "J-c:EXPIRE:2")
}

// A transition rule never selects archived images, and an archived image
// never transitions again.
func TestTransitionOnlyStandard(t *testing.T) {
	p := mustParse(t, policy(rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}`, transition)))
	a := img("archived", 100, "a")
	a.StorageClass = "ARCHIVE"
	got := Evaluate(p, []Image{a, img("s1", 50, "b"), img("s2", 40), img("s3", 1, "c")}, now)
	checkActions(t, got, "s1:TRANSITION:1", "s2:TRANSITION:1")
}

func TestRestoredImageUsesActivationTime(t *testing.T) {
	p := mustParse(t, policy(rule(1, `{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":30}`, transition)))
	r := img("restored", 100, "a")
	r.LastActivatedAt = ago(5)
	checkActions(t, Evaluate(p, []Image{r, img("plain", 100)}, now), "plain:TRANSITION:1")
}

// Ties in push time are broken by digest; the output order is the same
// whatever the input order.
func TestDeterministic(t *testing.T) {
	p := mustParse(t, policy(
		rule(1, `{"tagStatus":"tagged","tagPrefixList":["a"],"countType":"imageCountMoreThan","countNumber":2}`, expire),
		rule(2, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":3}`, expire),
	))
	var images []Image
	for i := range 40 {
		im := img(fmt.Sprintf("sha256:%02d", i), float64(i%5))
		if i%3 == 0 {
			im.Tags = []string{fmt.Sprintf("a%d", i)}
		}
		images = append(images, im)
	}
	want := summary(Evaluate(p, images, now))
	if len(want) == 0 {
		t.Fatal("expected actions")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		shuffled := slices.Clone(images)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := summary(Evaluate(p, shuffled, now)); !slices.Equal(got, want) {
			t.Fatalf("order depends on input:\n%q\n%q", got, want)
		}
	}
	// output is sorted by priority, then digest
	if !slices.IsSortedFunc(Evaluate(p, images, now), func(a, b Action) int {
		if a.RulePriority != b.RulePriority {
			return a.RulePriority - b.RulePriority
		}
		if a.Digest < b.Digest {
			return -1
		}
		return 1
	}) {
		t.Error("output not sorted")
	}
}

func TestEvaluateEdgeCases(t *testing.T) {
	p := mustParse(t, policy(rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}`, expire)))
	if got := Evaluate(nil, []Image{img("a", 1)}, now); got != nil {
		t.Errorf("nil policy: %v", got)
	}
	if got := Evaluate(p, nil, now); got != nil {
		t.Errorf("no images: %v", got)
	}
	// empty digests are ignored; duplicate entries are one image
	got := Evaluate(p, []Image{{Tags: []string{"x"}}, img("a", 2, "t1"), img("a", 2, "t2"), img("b", 1)}, now)
	checkActions(t, got, "a:EXPIRE:1")
	if !slices.Equal(got[0].Tags, []string{"t1", "t2"}) {
		t.Errorf("merged tags %q", got[0].Tags)
	}
	// a cycle of referrers (impossible with real digests) does nothing
	checkActions(t, Evaluate(p, []Image{referrer("x", "y", 9), referrer("y", "x", 9), img("z", 1)}, now))
	// the caller's slices are not shared with the result
	in := []Image{img("a", 2, "t"), img("b", 1)}
	out := Evaluate(p, in, now)
	out[0].Tags[0] = "changed"
	if in[0].Tags[0] != "t" {
		t.Error("result aliases input tags")
	}
}

func TestMatchPattern(t *testing.T) {
	cases := []struct {
		pattern, tag string
		want         bool
	}{
		{"prod*", "prod", true},
		{"prod*", "prod1", true},
		{"prod*", "production-team1", true},
		{"prod*", "xprod", false},
		{"*prod*", "repo-production", true},
		{"*prod*", "prod-team", true},
		{"*prod*", "pro-d", false},
		{"prod", "prod", true},
		{"prod", "prod1", false},
		{"*", "anything", true},
		{"*test*1*2*3", "my-test-1-2-3", true},
		{"*test*1*2*3", "my-test-1-2-3-4", false},
		{"test*1*2*3*", "test123", true},
		{"a*a", "a", false},
		{"a*a", "aa", true},
		{"*-sha-*", "main-sha-abc123", true},
		{"Prod*", "prod", false},
	}
	for _, c := range cases {
		if got := MatchPattern(c.pattern, c.tag); got != c.want {
			t.Errorf("MatchPattern(%q, %q) = %v, want %v", c.pattern, c.tag, got, c.want)
		}
	}
}

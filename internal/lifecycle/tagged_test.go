package lifecycle

import (
	"strings"
	"testing"
)

// sinceImageTagged (a Wharf extension): an image's age is counted from the
// newest move of a tag to it (from the tag history), so an image promoted
// by re-tagging is not expired for its old push date.

func TestSinceImageTaggedTable(t *testing.T) {
	thirtyDays := policy(rule(1, `{"tagStatus":"any","countType":"sinceImageTagged","countUnit":"days","countNumber":30}`, expire))
	prodByTag := policy(rule(1, `{"tagStatus":"tagged","tagPatternList":["prod-*"],"countType":"sinceImageTagged","countUnit":"days","countNumber":30}`, expire))
	untagged := policy(rule(1, `{"tagStatus":"untagged","countType":"sinceImageTagged","countUnit":"days","countNumber":7}`, expire))
	archive := policy(rule(1, `{"tagStatus":"any","countType":"sinceImageTagged","countUnit":"days","countNumber":30}`, transition))

	for _, tc := range []struct {
		name   string
		policy string
		image  func() Image
		want   []string
	}{
		{"never re-tagged: its push time", thirtyDays, func() Image { return img("a", 40, "v1") }, []string{"a:EXPIRE:1"}},
		{"young push", thirtyDays, func() Image { return img("a", 10, "v1") }, nil},
		{"old push, promoted 2 days ago", thirtyDays, func() Image {
			im := img("a", 400, "prod-1")
			im.LastTaggedAt = ago(2)
			return im
		}, nil},
		{"old push, last tagged 31 days ago", thirtyDays, func() Image {
			im := img("a", 400, "prod-1")
			im.LastTaggedAt = ago(31)
			return im
		}, []string{"a:EXPIRE:1"}},
		{"exactly at the boundary is not older", thirtyDays, func() Image {
			im := img("a", 400, "v1")
			im.LastTaggedAt = ago(30)
			return im
		}, nil},
		{"a tag time before the push counts as the push", thirtyDays, func() Image {
			im := img("a", 10, "v1")
			im.LastTaggedAt = ago(100) // history imported from elsewhere
			return im
		}, nil},
		{"restored from archive since", thirtyDays, func() Image {
			im := img("a", 400, "v1")
			im.LastTaggedAt = ago(100)
			im.LastActivatedAt = ago(1)
			return im
		}, nil},
		{"tag pattern: promoted image kept", prodByTag, func() Image {
			im := img("a", 90, "prod-7")
			im.LastTaggedAt = ago(5)
			return im
		}, nil},
		{"tag pattern: unmatched tag untouched", prodByTag, func() Image { return img("a", 90, "dev-7") }, nil},
		{"untagged since its tag was moved away", untagged, func() Image {
			im := img("a", 60)
			im.LastTaggedAt = ago(8)
			return im
		}, []string{"a:EXPIRE:1"}},
		{"untagged recently", untagged, func() Image {
			im := img("a", 60)
			im.LastTaggedAt = ago(3)
			return im
		}, nil},
		{"transition by tag time", archive, func() Image {
			im := img("a", 400, "v1")
			im.LastTaggedAt = ago(45)
			return im
		}, []string{"a:TRANSITION:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, tc.policy)
			checkActions(t, Evaluate(p, []Image{tc.image()}, now), tc.want...)
		})
	}
}

func TestSinceImageTaggedValidation(t *testing.T) {
	sel := func(s string) string { return policy(rule(1, s, expire)) }
	for _, tc := range []struct {
		doc, err string
	}{
		{sel(`{"tagStatus":"any","countType":"sinceImageTagged","countUnit":"days","countNumber":1}`), ""},
		{sel(`{"tagStatus":"any","countType":"sinceImageTagged","countNumber":1}`), `requires countUnit "days"`},
		{sel(`{"tagStatus":"any","countType":"sinceImageTagged","countUnit":"hours","countNumber":1}`), "countUnit"},
		{sel(`{"tagStatus":"any","countType":"sinceImageTagged","countUnit":"days","countNumber":0}`), "countNumber"},
		{sel(`{"tagStatus":"any","countType":"sinceimagetagged","countUnit":"days","countNumber":1}`), "not a valid count type"},
	} {
		_, err := Parse([]byte(tc.doc))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.doc, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: got %v, want an error about %q", tc.doc, err, tc.err)
		}
	}
}

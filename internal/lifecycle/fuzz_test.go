package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	`{"rules":[{"rulePriority":1,"description":"Expire images older than 14 days","selection":{"tagStatus":"tagged","tagPatternList":["prod*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}`,
	`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`,
	`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":90},"action":{"type":"transition","targetStorageClass":"archive"}}]}`,
	`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":365},"action":{"type":"expire"}}]}`,
	`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["alpha","beta"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},{"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}},{"rulePriority":3,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`,
	`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPatternList":["*test*1*2*3","a**b"],"countType":"sinceImageTagged","countUnit":"days","countNumber":2},"action":{"type":"transition","targetStorageClass":"archive"}}]}`,
	`{"rules":[{"rulePriority":0}]}`,
	`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},{"rulePriority":1}]}`,
	`{"rules":null}`,
	`{"rules":[{"rulePriority":1e3}]}`,
	`[]`,
	``,
}

// fuzzImages is a repository with every kind of image Evaluate handles.
func fuzzImages() []Image {
	rng := rand.New(rand.NewPCG(7, 7))
	tags := []string{"prod", "prod-1", "alpha-1", "beta-2", "test-1-2-3", "ab", "v1", "latest"}
	var images []Image
	for i := range 30 {
		im := Image{Digest: fmt.Sprintf("d%02d", i), PushedAt: ago(float64(rng.IntN(400)))}
		for range rng.IntN(3) {
			im.Tags = append(im.Tags, tags[rng.IntN(len(tags))])
		}
		if rng.IntN(3) == 0 {
			im.LastPulledAt = ago(float64(rng.IntN(200)))
		}
		if rng.IntN(4) == 0 {
			im.StorageClass = StorageClassArchive
			im.TransitionedAt = ago(float64(rng.IntN(500)))
		}
		switch rng.IntN(6) {
		case 0:
			im.ParentIndex = fmt.Sprintf("d%02d", rng.IntN(30))
		case 1:
			im.Subject = fmt.Sprintf("d%02d", rng.IntN(32))
		}
		images = append(images, im)
	}
	return images
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	images := fuzzImages()
	digests := map[string]bool{}
	for _, im := range images {
		digests[im.Digest] = true
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := Parse(doc)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || p != nil {
				t.Fatalf("error %T %v with policy %v", err, err, p)
			}
			if !strings.HasPrefix(err.Error(), "Lifecycle policy validation failure: ") {
				t.Fatalf("message %q", err)
			}
			return
		}
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := Parse(out)
		if err != nil {
			t.Fatalf("marshalled policy does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip changed the policy:\n%+v\n%+v", p, q)
		}
		seen := map[string]bool{}
		for _, a := range Evaluate(p, images, now) {
			if !digests[a.Digest] || seen[a.Digest] {
				t.Fatalf("bad or repeated digest %q", a.Digest)
			}
			seen[a.Digest] = true
			if a.Type != ActionExpire && a.Type != ActionTransition {
				t.Fatalf("type %q", a.Type)
			}
		}
	})
}

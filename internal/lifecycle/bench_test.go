package lifecycle

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

const benchPolicy = `{"rules":[
	{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["prod-"],"countType":"imageCountMoreThan","countNumber":50},"action":{"type":"expire"}},
	{"rulePriority":2,"selection":{"tagStatus":"tagged","tagPatternList":["feature-*-*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":30},"action":{"type":"expire"}},
	{"rulePriority":3,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}},
	{"rulePriority":4,"selection":{"tagStatus":"tagged","tagPatternList":["*-rc*"],"countType":"sinceImagePulled","countUnit":"days","countNumber":60},"action":{"type":"transition","targetStorageClass":"archive"}},
	{"rulePriority":5,"selection":{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":180},"action":{"type":"expire"}}]}`

// benchImages is a repository of n images: tagged images of several
// families, untagged ones, multi-platform indexes with two children each,
// and signatures.
func benchImages(n int) []Image {
	rng := rand.New(rand.NewPCG(1, 1))
	images := make([]Image, 0, n)
	for i := 0; len(images) < n; i++ {
		d := fmt.Sprintf("sha256:%064x", i)
		im := Image{Digest: d, PushedAt: ago(rng.Float64() * 365)}
		if rng.IntN(2) == 0 {
			im.LastPulledAt = ago(rng.Float64() * 100)
		}
		switch rng.IntN(6) {
		case 0:
			im.Tags = []string{fmt.Sprintf("prod-%d", i), "latest-prod"}
		case 1:
			im.Tags = []string{fmt.Sprintf("feature-%d-x", i)}
		case 2:
			im.Tags = []string{fmt.Sprintf("v%d.0-rc%d", i, i%3)}
		case 3:
			im.Tags = []string{fmt.Sprintf("main-%d", i), fmt.Sprintf("sha-%x", i)}
		}
		images = append(images, im)
		if i%10 == 0 { // a multi-platform index: two children and a signature
			for _, suffix := range []string{"amd64", "arm64"} {
				images = append(images, Image{Digest: d + "-" + suffix, PushedAt: im.PushedAt, ParentIndex: d})
			}
			images = append(images, Image{Digest: d + "-sig", PushedAt: im.PushedAt, Subject: d})
		}
	}
	return images[:n]
}

func BenchmarkEvaluate(b *testing.B) {
	p := mustParse(b, benchPolicy)
	images := benchImages(10000)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(Evaluate(p, images, now))
	}
	b.ReportMetric(float64(n), "actions")
}

func BenchmarkParse(b *testing.B) {
	doc := []byte(benchPolicy)
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}

package registry_test

import (
	"context"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/manifest"
	"github.com/wharfhq/wharf/internal/registry/names"
)

// BenchmarkTagMove measures a push that moves a tag between two images of
// one platform, with the platform guard off and on: the guard's cost on
// the push path (its setting and both images' platforms come from caches;
// one more tag lookup in the store).
func BenchmarkTagMove(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "guard=off"
		if on {
			name = "guard=on"
		}
		b.Run(name, func(b *testing.B) {
			c := newCore(b, 0, registry.Mutable)
			ma, _ := c.image("linux/amd64", "a")
			mb, _ := c.image("linux/amd64", "b")
			c.guard(on)
			bodies := [][]byte{ma, mb}
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.svc.PutManifestWith(ctx, c.repo, names.Reference{Tag: "latest"}, manifest.OCIManifest, bodies[i%2], alice, registry.PutOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDeleteImage measures deleting an image by digest for good and
// into the recycle bin (each iteration pushes one back first, untimed).
func BenchmarkDeleteImage(b *testing.B) {
	for _, retention := range []time.Duration{0, 7 * 24 * time.Hour} {
		name := "bin=off"
		if retention > 0 {
			name = "bin=on"
		}
		b.Run(name, func(b *testing.B) {
			c := newCore(b, retention, registry.Mutable)
			body, d := c.image("linux/amd64", "a")
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if _, err := c.svc.PutManifestWith(ctx, c.repo, names.Reference{Tag: "v1"}, manifest.OCIManifest, body, alice, registry.PutOptions{}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := c.svc.DeleteImage(ctx, c.repo, d, alice); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

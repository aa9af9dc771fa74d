package migrate_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/wharfhq/wharf/internal/migrate"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// BenchmarkMigrate measures a migration from an embedded registry onto
// PostgreSQL and S3 (the servers of scripts/postgres.sh and scripts/s3.sh):
//
//	go test ./internal/migrate -run '^$' -bench Migrate -benchtime 1x
//
// "LargeLayers" is bandwidth (32 layers of 8 MiB), "SmallImages" is
// per-item cost (500 images of a 2 KiB config and a 4 KiB layer, tagged).
func BenchmarkMigrate(b *testing.B) {
	if os.Getenv("WHARF_TEST_POSTGRES_URL") == "" || os.Getenv("WHARF_TEST_S3_ENDPOINT") == "" {
		b.Skip("WHARF_TEST_POSTGRES_URL and WHARF_TEST_S3_ENDPOINT are not set")
	}
	b.Setenv("AWS_ACCESS_KEY_ID", os.Getenv("WHARF_TEST_S3_ACCESS_KEY"))
	b.Setenv("AWS_SECRET_ACCESS_KEY", os.Getenv("WHARF_TEST_S3_SECRET_KEY"))
	for _, tc := range []struct {
		name            string
		images, layers  int
		cfgSize, layerS int
	}{
		{"LargeLayers", 4, 8, 2048, 8 << 20},
		{"SmallImages", 500, 1, 2048, 4096},
	} {
		b.Run(tc.name, func(b *testing.B) {
			dir := b.TempDir()
			src := open(b, dirLocation(dir), false)
			total := buildSynthetic(b, src, tc.images, tc.layers, tc.cfgSize, tc.layerS)
			b.SetBytes(total)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dst := open(b, freshPostgresS3(b), false)
				b.StartTimer()
				rep, err := copier(src, dst, migrate.Options{}).Run(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				b.ReportMetric(float64(rep.Count(migrate.KindManifests).Copied)/rep.Duration.Seconds(), "images/s")
				dst.Close()
				b.StartTimer()
			}
		})
	}
}

// buildSynthetic writes images straight into the stores and returns the
// blob bytes.
func buildSynthetic(b *testing.B, st *migrate.Stores, images, layers, cfgSize, layerSize int) int64 {
	ctx := context.Background()
	check(b, st.Meta.CreateAccount(ctx, meta.Account{ID: accountA, Name: "bench"}))
	r := try(st.Meta.CreateRepository(ctx, meta.Repository{AccountID: accountA, Name: "bench/app", TagMutability: "MUTABLE"})).must(b)
	var total int64
	put := func(p []byte) string {
		d := sha(p)
		try(st.Blobs.Append(ctx, "bench", 0, bytes.NewReader(p))).must(b)
		check(b, st.Blobs.Commit(ctx, "bench", d))
		check(b, st.Blobs.Abort(ctx, "bench"))
		check(b, st.Meta.LinkBlob(ctx, r.ID, meta.Blob{Digest: d, Size: int64(len(p))}))
		total += int64(len(p))
		return d
	}
	for i := 0; i < images; i++ {
		refs := []string{put(data(fmt.Sprint("config", i), cfgSize))}
		for j := 0; j < layers; j++ {
			refs = append(refs, put(data(fmt.Sprint("layer", i, j), layerSize)))
		}
		content := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"refs":%q}`, ociManifest, refs))
		check(b, st.Meta.PutManifest(ctx, meta.PutManifest{Manifest: meta.Manifest{RepoID: r.ID, Digest: sha(content), MediaType: ociManifest,
			Size: int64(len(content)), Content: content}, Refs: meta.Refs{Blobs: refs}, Tag: fmt.Sprint("v", i)}))
	}
	return total
}

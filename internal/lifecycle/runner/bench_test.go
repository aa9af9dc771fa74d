package runner_test

import (
	"context"
	"fmt"
	"testing"
)

// benchPolicy expires every image pushed more than 14 days before the run.
const benchPolicy = pushedOver14Days

// benchFixture is a repository of n images pushed 20 days before now, every
// tenth tagged.
func benchFixture(b *testing.B, n int) *fixture {
	b.Helper()
	f := setup(b)
	for i := 0; i < n; i++ {
		tag := ""
		if i%10 == 0 {
			tag = fmt.Sprint("t", i)
		}
		f.push(fmt.Sprint("bench", i), tag)
	}
	f.clk.advance(20 * day)
	f.policy(benchPolicy)
	return f
}

// BenchmarkEvaluateRepository: a dry run (load every image, parse its
// manifest, evaluate) over a repository of 2,000 images.
func BenchmarkEvaluateRepository(b *testing.B) {
	f := benchFixture(b, 2000)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		rep, err := f.run.RunRepository(ctx, f.repo, true)
		if err != nil || len(rep.Outcomes) != 2000 {
			b.Fatalf("%d outcomes, %v", len(rep.Outcomes), err)
		}
	}
	b.ReportMetric(float64(2000*b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkExpireRepository: a run that expires 500 images (plan stored,
// each deleted through the core and audited in its own transaction).
func BenchmarkExpireRepository(b *testing.B) {
	ctx := context.Background()
	const n = 500
	var total int
	for b.Loop() {
		b.StopTimer()
		f := benchFixture(b, n)
		b.StartTimer()
		rep, err := f.run.RunRepository(ctx, f.repo, false)
		if err != nil || len(rep.Outcomes) != n {
			b.Fatalf("%d outcomes, %v", len(rep.Outcomes), err)
		}
		total += n
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "images/s")
}

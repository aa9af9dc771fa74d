package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/wharfhq/wharf/internal/jobs"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/scan"
)

// newScanService wires image scanning: the cataloguer, the vulnerability
// data and the push hook that queues scans on push.
func newScanService(reg *registry.Service, logger *slog.Logger) *scan.Service {
	s := scan.New(reg, logger)
	reg.OnPush(s.OnPush)
	return s
}

// runScanWorkers runs the scan jobs until ctx ends: one runner for image
// scans and one for rescans and pruning, so that a long rescan after a
// data import does not hold up the scans of new pushes.
func (a *App) runScanWorkers(ctx context.Context) {
	var wg sync.WaitGroup
	scans := &jobs.Runner{Store: a.Stores.Meta, Poll: time.Second, Logger: a.Logger}
	scans.Handle(scan.KindScan, a.Scans.HandleScan)
	rescans := &jobs.Runner{Store: a.Stores.Meta, Poll: 2 * time.Second, Logger: a.Logger}
	rescans.Handle(scan.KindRescan, a.Scans.HandleRescan)
	rescans.Handle(scan.KindPrune, a.Scans.HandlePrune)
	rescans.Handle(scan.KindEligibility, a.Scans.HandleEligibility)
	sched := &jobs.Scheduler{Store: a.Stores.Meta, Logger: a.Logger,
		Jobs: []jobs.Periodic{
			{Kind: scan.KindPrune, Interval: max(a.Config.GCInterval, time.Hour)},
			// Durations count in days: a few checks a day apply them.
			{Kind: scan.KindEligibility, Interval: 6 * time.Hour},
		}}
	for _, run := range []func(context.Context){scans.Run, rescans.Run, sched.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); run(ctx) }()
	}
	wg.Wait()
}

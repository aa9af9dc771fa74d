package gate

import (
	"context"
	"errors"

	"github.com/wharfhq/wharf/internal/scan"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// StoreScans reads scans from the scan pipeline's store (ScanSource).
type StoreScans struct {
	Meta meta.Store
}

// ImageScan returns the image's scan: its status and, once a scan has
// completed, the active findings of the latest completed match (a rescan
// in progress keeps the previous findings in force).
func (s StoreScans) ImageScan(ctx context.Context, account, repository, digest string) (Scan, error) {
	r, err := s.Meta.GetRepository(ctx, account, repository)
	if errors.Is(err, meta.ErrNotFound) {
		return Scan{Status: StatusNone}, nil
	}
	if err != nil {
		return Scan{}, err
	}
	rep, err := scan.GetReport(ctx, s.Meta, r.ID, digest)
	if errors.Is(err, scan.ErrNotScanned) {
		return Scan{Status: StatusNone}, nil
	}
	if err != nil {
		return Scan{}, err
	}
	out := Scan{Status: rep.Status, Scanned: !rep.CompletedAt.IsZero()}
	if !out.Scanned {
		return out, nil
	}
	active := rep.Active()
	out.Findings = make([]vulndb.Finding, len(active))
	out.Platforms = make([][]string, len(active))
	for i := range active {
		out.Findings[i] = active[i].Finding
		out.Platforms[i] = active[i].Platforms
	}
	return out, nil
}

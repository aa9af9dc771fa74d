package scan

import "github.com/wharfhq/wharf/internal/store/meta"

// Status is how the API presents an image's scan: ECR's ScanStatus and its
// description. A completed scan of an image under continuous scanning
// (enhanced mode) is ACTIVE: it is re-matched whenever the data changes,
// so it is never "complete" in ECR's sense, unless its eligibility lapsed
// (SCAN_ELIGIBILITY_EXPIRED: see Eligibility).
func Status(sc meta.ImageScan, c Config, r meta.Repository) (status, description string) {
	switch sc.Status {
	case meta.ScanComplete:
		if c.ScanType == TypeEnhanced && c.Continuous(r) {
			if !sc.ExpiredAt.IsZero() {
				return StatusExpired, DescExpired
			}
			return "ACTIVE", DescContinuous
		}
		return meta.ScanComplete, DescComplete
	case meta.ScanInProgress:
		return meta.ScanInProgress, ""
	}
	return sc.Status, sc.Description
}

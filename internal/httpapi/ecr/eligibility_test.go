package ecr_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/wharfhq/wharf/internal/scan"
)

// TestScanningEligibilityExpired: under continuous scanning with a push
// duration, an image neither pushed nor pulled within it reads
// SCAN_ELIGIBILITY_EXPIRED in DescribeImages and DescribeImageScanFindings
// (its findings kept, not updated); StartImageScan, refused otherwise under
// enhanced scanning, brings it back.
func TestScanningEligibilityExpired(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.scImport(t)
	scCreate(t, e.ecr, "team/app", false)
	_, err := e.ecr.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: types.ScanTypeEnhanced,
		Rules: []types.RegistryScanningRule{scRule(types.ScanFrequencyContinuousScan, "*")}})
	imOK(t, err)
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := scLayer(t)
	e.imBlob("team/app", cfg)
	e.imBlob("team/app", layer)
	e.imPut("team/app", "v1", imOCIManifest, imManifest(cfg, layer))
	e.scRun(t)
	status := func() *types.ImageScanStatus {
		t.Helper()
		d, err := e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/app")})
		imOK(t, err)
		if len(d.ImageDetails) != 1 || d.ImageDetails[0].ImageScanStatus == nil {
			t.Fatalf("images %+v", d.ImageDetails)
		}
		return d.ImageDetails[0].ImageScanStatus
	}
	if st := status(); st.Status != types.ScanStatusActive {
		t.Fatalf("before: %+v", st)
	}

	// 14 days after push; the rescan the setting queues runs 15 days on.
	if _, err := scan.SaveEligibility(ctx, e.app.Stores.Meta, account, scan.Eligibility{RescanDuration: "DAYS_14"}, time.Now(), "tester"); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(15 * 24 * time.Hour)
	e.app.Scans.Clock = func() time.Time { return later }
	e.scRun(t)
	st := status()
	if st.Status != types.ScanStatusScanEligibilityExpired || aws.ToString(st.Description) != scan.DescExpired {
		t.Fatalf("expired image detail %+v", st)
	}
	f, err := scFindings(e.ecr, "team/app", "v1")
	imOK(t, err)
	if f.ImageScanStatus.Status != types.ScanStatusScanEligibilityExpired || len(f.ImageScanFindings.EnhancedFindings) != 2 ||
		aws.ToString(f.ImageScanFindings.EnhancedFindings[0].Status) != "ACTIVE" {
		t.Fatalf("expired findings %+v / %+v", f.ImageScanStatus, f.ImageScanFindings)
	}

	// StartImageScan brings it back.
	out, err := e.ecr.StartImageScan(ctx, &ecr.StartImageScanInput{RepositoryName: aws.String("team/app"), ImageId: &types.ImageIdentifier{ImageTag: aws.String("v1")}})
	imOK(t, err)
	if out.ImageScanStatus.Status != types.ScanStatusInProgress {
		t.Fatalf("start %+v", out.ImageScanStatus)
	}
	e.scRun(t)
	if st := status(); st.Status != types.ScanStatusActive {
		t.Fatalf("after the scan: %+v", st)
	}
	// Eligible, it takes no manual scan (ECR's enhanced scanning).
	_, err = e.ecr.StartImageScan(ctx, &ecr.StartImageScanInput{RepositoryName: aws.String("team/app"), ImageId: &types.ImageIdentifier{ImageTag: aws.String("v1")}})
	imCode(t, err, "ValidationException")
}

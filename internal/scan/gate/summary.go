package gate

import (
	"context"
	"strings"

	"github.com/wharfhq/wharf/internal/scan/vulndb"
)

// Hooks for finding lists and severity summaries (DescribeImageScanFindings,
// DescribeImages' imageScanFindingsSummary), so that what they count is
// what the gates count.

// FindingSuppressed is the status a suppressed finding is listed with in
// enhanced (Inspector-style) finding lists, as Amazon Inspector spells it;
// basic lists leave suppressed findings out.
const FindingSuppressed = "SUPPRESSED"

// Counts returns the number of findings per severity (ECR's spelling;
// only non-zero counts).
func Counts(findings []vulndb.Finding) map[string]int {
	out := map[string]int{}
	for _, f := range findings {
		out[strings.ToUpper(f.Severity)]++
	}
	return out
}

// Summary returns an image's severity counts with suppressions applied.
// counts are the stored counts of its active findings; load reads the
// findings themselves, and is called only when a suppression may apply
// (the image has findings and its repository, registry or attached VEX
// documents suppress something), so a page of images without
// suppressions costs no decoding.
func (g *Gate) Summary(ctx context.Context, account, repo, digest string, counts map[string]int, load func(context.Context) ([]vulndb.Finding, error)) (map[string]int, error) {
	total := 0
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return counts, nil
	}
	sups, err := g.ImageSuppressions(ctx, account, repo, digest)
	if err != nil || len(sups) == 0 {
		return counts, err
	}
	findings, err := load(ctx)
	if err != nil {
		return nil, err
	}
	active, _, err := g.Apply(ctx, account, repo, digest, findings)
	if err != nil {
		return nil, err
	}
	return Counts(active), nil
}

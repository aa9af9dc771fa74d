package migrate

import (
	"context"
	"fmt"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// copySuppressions copies an account's finding suppressions (expired ones
// too: they are the record of past decisions), after the repositories
// they name. One that differs on the destination is replaced by the
// source's; one only the destination has is reported, not deleted.
func (c *Copier) copySuppressions(ctx context.Context, rep *Report, acct string) error {
	src, err := c.SrcMeta.ListSuppressions(ctx, meta.SuppressionFilter{AccountID: acct})
	if err != nil {
		return fmt.Errorf("source: suppressions of %s: %w", acct, err)
	}
	dst, err := c.DstMeta.ListSuppressions(ctx, meta.SuppressionFilter{AccountID: acct})
	if err != nil {
		return fmt.Errorf("destination: suppressions of %s: %w", acct, err)
	}
	key := func(s meta.Suppression) string {
		return s.Repository + "\x00" + s.FindingID + "\x00" + s.Package + "\x00" + s.Digest
	}
	have := map[string]meta.Suppression{}
	for _, s := range dst {
		have[key(s)] = s
	}
	for _, s := range src {
		k := key(s)
		d, ok := have[k]
		delete(have, k)
		if ok && d.Justification == s.Justification && d.ExpiresAt.Equal(s.ExpiresAt) && d.CreatedBy == s.CreatedBy && d.CreatedAt.Equal(s.CreatedAt) {
			rep.skipped(KindSuppressions, 1)
			continue
		}
		if _, _, err := c.DstMeta.PutSuppression(ctx, s); err != nil {
			return fmt.Errorf("destination: suppression of %s in %s: %w", s.FindingID, s.Repository, err)
		}
		rep.copied(KindSuppressions, 1)
	}
	for _, s := range have {
		rep.extra("suppression of %s in %s/%s (not in the source)", s.FindingID, acct, s.Repository)
	}
	return nil
}

package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// auditCmd reads the audit trail.
func auditCmd() *cobra.Command {
	var f meta.AuditFilter
	var since, until string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "List the audit trail (lifecycle expiries, rollbacks, restores, scans, ...)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if f.Since, err = parseWhen(since); err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			if f.Until, err = parseWhen(until); err != nil {
				return fmt.Errorf("--until: %w", err)
			}
			return withStores(cmd, func(cfg config.Config, st app.Stores) error {
				evs, err := st.Meta.ListAudit(cmd.Context(), f)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if asJSON {
					enc := json.NewEncoder(out)
					for _, e := range evs {
						if err := enc.Encode(auditJSON(e)); err != nil {
							return err
						}
					}
					return nil
				}
				tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tTIME\tACCOUNT\tREPOSITORY\tACTION\tACTOR\tIMAGE\tDETAIL")
				for _, e := range evs {
					img := e.Digest
					if e.Tag != "" {
						img = e.Tag + " " + img
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.At.Format(time.RFC3339), e.AccountID,
						e.Repository, e.Action, e.Actor, img, e.Detail)
				}
				return tw.Flush()
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.AccountID, "account", "", "only this account")
	fl.StringVar(&f.Repository, "repository", "", "only this repository")
	fl.StringVar(&f.Action, "action", "", `only this action, or a prefix ending in "." or "*" (scan.)`)
	fl.StringVar(&f.Digest, "digest", "", "only events about this image digest")
	fl.StringVar(&since, "since", "", "only events at or after this time (RFC 3339, or a duration ago: 24h)")
	fl.StringVar(&until, "until", "", "only events before this time (RFC 3339, or a duration ago)")
	fl.IntVar(&f.Limit, "limit", 1000, "at most this many events (0: all)")
	fl.Int64Var(&f.AfterID, "after-id", 0, "only events with a larger id (paging)")
	fl.BoolVar(&asJSON, "json", false, "print one JSON object per line")
	config.RegisterFlags(fl)
	return cmd
}

// parseWhen reads an RFC 3339 time or a duration before now; "" is zero.
func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	return time.Parse(time.RFC3339, s)
}

func auditJSON(e meta.AuditEvent) map[string]any {
	m := map[string]any{"id": e.ID, "at": e.At.Format(time.RFC3339Nano), "accountId": e.AccountID,
		"repository": e.Repository, "action": e.Action, "actor": e.Actor, "digest": e.Digest, "tag": e.Tag}
	if len(e.Detail) > 0 && json.Valid(e.Detail) {
		m["detail"] = json.RawMessage(e.Detail)
	}
	return m
}

package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/scan"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// vulndbCmd manages the vulnerability data image scans match against.
func vulndbCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "vulndb", Short: "Import and inspect vulnerability data (OSV advisories)"}
	cmd.AddCommand(vulndbImportCmd(), vulndbStatusCmd())
	return cmd
}

// shownInvalid is how many invalid records the text output lists.
const shownInvalid = 20

func vulndbImportCmd() *cobra.Command {
	var source string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "import PATH",
		Short: "Import OSV advisories: a directory of JSON files, one JSON file, or an osv.dev all.zip",
		Long: `Import OSV advisories into the metadata store.

PATH is a directory (every *.json below it, and every *.zip), one .json file
(one advisory, an array of them, or one per line), or a .zip such as the
per-ecosystem archives osv.dev publishes (https://osv-vulnerabilities.storage.googleapis.com/<ecosystem>/all.zip).
Importing again is cheap and safe: advisories whose "modified" time is unchanged
are skipped, newer ones replace the stored ones. Invalid records are reported
and skipped. The advisories go to the metadata store, where scans read them.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStores(cmd, func(cfg config.Config, st app.Stores) error {
				start := time.Now()
				rep, err := vulndb.Import(cmd.Context(), st.Meta, args[0], vulndb.ImportOptions{Source: source})
				if err != nil {
					return err
				}
				// New or changed advisories: the server re-matches the
				// stored inventories of images under continuous scanning
				// (a queued job, so it runs even if no server is up now):
				// those whose packages the changes touch.
				if rep.Added+rep.Updated > 0 {
					touched := append([]vulndb.PackageKey{}, rep.Touched...)
					if err := scan.EnqueueTargetedRescan(cmd.Context(), st.Meta, "", time.Now(), touched); err != nil {
						return fmt.Errorf("imported, but queueing the rescan failed: %w", err)
					}
				}
				out := cmd.OutOrStdout()
				if asJSON {
					enc := json.NewEncoder(out)
					enc.SetIndent("", "  ")
					return enc.Encode(rep)
				}
				fmt.Fprintf(out, "imported %s as source %q in %v: %d added, %d updated, %d unchanged, %d older, %d invalid (%d records in %d files)\n",
					rep.Path, rep.Source, time.Since(start).Round(time.Millisecond), rep.Added, rep.Updated, rep.Unchanged, rep.Older,
					rep.Invalid, rep.Records, rep.Files)
				fmt.Fprintf(out, "vulnerabilitySourceUpdatedAt: %s\n", vulndbTime(rep.UpdatedAt))
				if len(rep.Touched) > 0 {
					fmt.Fprintf(out, "packages affected by the changes: %d\n", len(rep.Touched))
				}
				for i, iv := range rep.InvalidRecords {
					if i == shownInvalid {
						fmt.Fprintf(out, "  ... and %d more (--json lists them)\n", rep.Invalid-shownInvalid)
						break
					}
					id := ""
					if iv.ID != "" {
						id = " (" + iv.ID + ")"
					}
					fmt.Fprintf(out, "  invalid: %s%s: %s\n", iv.File, id, iv.Reason)
				}
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&source, "source", "", "name of the feed (default: the absolute path)")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON")
	config.RegisterFlags(fl)
	return cmd
}

type vulndbStatus struct {
	Advisories   int64                     `json:"advisories"`
	UpdatedAt    time.Time                 `json:"vulnerabilitySourceUpdatedAt"`
	Sources      []vulndbSourceJSON        `json:"sources"`
	PerEcosystem []meta.VulnEcosystemCount `json:"ecosystems"`
}

type vulndbSourceJSON struct {
	Name       string    `json:"name"`
	Path       string    `json:"path"`
	ImportedAt time.Time `json:"importedAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	Advisories int64     `json:"advisories"`
	Added      int64     `json:"added"`
	Updated    int64     `json:"updated"`
	Unchanged  int64     `json:"unchanged"`
	Older      int64     `json:"older"`
	Invalid    int64     `json:"invalid"`
}

func vulndbStatusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the imported vulnerability data: sources, counts per ecosystem, newest update",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStores(cmd, func(cfg config.Config, st app.Stores) error {
				ctx := cmd.Context()
				total, per, err := st.Meta.CountVulnAdvisories(ctx)
				if err != nil {
					return err
				}
				srcs, err := st.Meta.ListVulnSources(ctx)
				if err != nil {
					return err
				}
				s := vulndbStatus{Advisories: total, PerEcosystem: per, Sources: []vulndbSourceJSON{}}
				for _, src := range srcs {
					if src.UpdatedAt.After(s.UpdatedAt) {
						s.UpdatedAt = src.UpdatedAt
					}
					s.Sources = append(s.Sources, vulndbSourceJSON{Name: src.Name, Path: src.Path, ImportedAt: src.ImportedAt,
						UpdatedAt: src.UpdatedAt, Advisories: src.Advisories, Added: src.Added, Updated: src.Updated,
						Unchanged: src.Unchanged, Older: src.Older, Invalid: src.Invalid})
				}
				if s.PerEcosystem == nil {
					s.PerEcosystem = []meta.VulnEcosystemCount{}
				}
				out := cmd.OutOrStdout()
				if asJSON {
					enc := json.NewEncoder(out)
					enc.SetIndent("", "  ")
					return enc.Encode(s)
				}
				fmt.Fprintf(out, "advisories: %d (withdrawn ones not counted)\n", s.Advisories)
				fmt.Fprintf(out, "vulnerabilitySourceUpdatedAt: %s\n", vulndbTime(s.UpdatedAt))
				if len(srcs) == 0 {
					fmt.Fprintln(out, "no source imported yet: run 'wharf vulndb import PATH'")
					return nil
				}
				fmt.Fprintln(out)
				tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SOURCE\tADVISORIES\tIMPORTED\tUPDATED\tLAST IMPORT\tPATH")
				for _, src := range s.Sources {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t+%d ~%d =%d <%d !%d\t%s\n", src.Name, src.Advisories, vulndbTime(src.ImportedAt), vulndbTime(src.UpdatedAt),
						src.Added, src.Updated, src.Unchanged, src.Older, src.Invalid, src.Path)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				fmt.Fprintln(out, "(last import: +added ~updated =unchanged <older !invalid)")
				fmt.Fprintln(out)
				tw = tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ECOSYSTEM\tADVISORIES")
				for _, c := range s.PerEcosystem {
					fmt.Fprintf(tw, "%s\t%d\n", c.Ecosystem, c.Advisories)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	config.RegisterFlags(cmd.Flags())
	return cmd
}

func vulndbTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

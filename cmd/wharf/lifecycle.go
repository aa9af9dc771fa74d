package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/lifecycle/runner"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// lifecycleCmd runs lifecycle policies by hand.
func lifecycleCmd() *cobra.Command {
	lc := &cobra.Command{Use: "lifecycle", Short: "Lifecycle policies"}
	var dry, asJSON bool
	var repo, account string
	runCmd := &cobra.Command{
		Use:   "run",
		Short: "Apply lifecycle policies now (all repositories with one, or --repository); safe while the server runs",
		Long: "Apply lifecycle policies now, as the server does every lifecycle_interval: expire images through the\n" +
			"registry's delete path and move images to the archive storage class, recording one audit event per image\n" +
			"(wharf audit --action lifecycle.). A run interrupted half way is finished by the next one.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStores(cmd, func(cfg config.Config, st app.Stores) error {
				reg := registry.New(st.Meta, st.Blobs, registry.Options{CreateOnPush: cfg.CreateOnPush, MaxManifestBytes: cfg.MaxManifestBytes})
				rn := &runner.Runner{Registry: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
				var reps []runner.Report
				if repo != "" {
					acct := account
					if acct == "" {
						var err error
						if acct, err = defaultAccount(cmd, cfg, st.Meta); err != nil {
							return err
						}
					}
					r, err := st.Meta.GetRepository(cmd.Context(), acct, repo)
					if errors.Is(err, meta.ErrNotFound) {
						return fmt.Errorf("repository %s not found in account %s", repo, acct)
					}
					if err != nil {
						return err
					}
					rep, err := rn.RunRepository(cmd.Context(), r, dry)
					if err != nil {
						return err
					}
					if rep.NoPolicy {
						return fmt.Errorf("repository %s has no lifecycle policy", repo)
					}
					reps = append(reps, rep)
				} else {
					var err error
					if reps, err = rn.RunAll(cmd.Context(), account, dry); err != nil {
						return err
					}
				}
				return printLifecycle(cmd.OutOrStdout(), reps, dry, asJSON)
			})
		},
	}
	fl := runCmd.Flags()
	fl.BoolVar(&dry, "dry-run", false, "report what the policies would do, change nothing")
	fl.StringVar(&repo, "repository", "", "only this repository (of --account, else of the default account)")
	fl.StringVar(&account, "account", "", "only repositories of this account")
	fl.BoolVar(&asJSON, "json", false, "print one JSON report per repository")
	config.RegisterFlags(fl)
	lc.AddCommand(runCmd)
	return lc
}

func printLifecycle(w io.Writer, reps []runner.Report, dry, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, rep := range reps {
			if rep.Outcomes == nil {
				rep.Outcomes = []runner.Outcome{}
			}
			if err := enc.Encode(rep); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tREPOSITORY\tACTION\tSTATE\tRULE\tIMAGE\tTAGS\tNOTE")
	total := 0
	for _, rep := range reps {
		for _, o := range rep.Outcomes {
			state := o.State
			if dry {
				state = "would"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", rep.Account, rep.Repository, o.Action, state, o.RulePriority,
				o.Digest, strings.Join(o.Tags, ","), o.Reason)
			if o.State == meta.PlanDone || dry {
				total++
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verb := "acted on"
	if dry {
		verb = "would act on"
	}
	_, err := fmt.Fprintf(w, "%s %d images in %d repositories with a lifecycle policy\n", verb, total, len(reps))
	return err
}

package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/gc"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// withStores opens the configured stores for an offline command. SQLite
// allows this next to a running server.
func withStores(cmd *cobra.Command, fn func(cfg config.Config, st app.Stores) error) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	st, err := app.OpenStores(cmd.Context(), cfg)
	if err != nil {
		return err
	}
	defer st.Meta.Close()
	return fn(cfg, st)
}

// defaultAccount is the configured account, else the first one stored.
func defaultAccount(cmd *cobra.Command, cfg config.Config, m meta.Store) (string, error) {
	if cfg.AccountID != "" {
		return cfg.AccountID, nil
	}
	accts, err := m.ListAccounts(cmd.Context())
	if err != nil {
		return "", err
	}
	if len(accts) == 0 {
		return "", fmt.Errorf("no account yet: run 'wharf serve' once or set WHARF_ACCOUNT_ID")
	}
	return accts[0].ID, nil
}

func adminCmd() *cobra.Command {
	admin := &cobra.Command{Use: "admin", Short: "Manage accounts and repositories"}
	repo := &cobra.Command{Use: "repo", Short: "Manage repositories"}

	var mutability string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a repository in the default account",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !names.ValidRepository(name) {
				return fmt.Errorf("invalid repository name %q (lowercase letters, digits, separators . _ - and /; 2-256 characters)", name)
			}
			if mutability != "MUTABLE" && mutability != "IMMUTABLE" {
				return fmt.Errorf("--tag-mutability must be MUTABLE or IMMUTABLE")
			}
			return withStores(cmd, func(cfg config.Config, st app.Stores) error {
				acct, err := defaultAccount(cmd, cfg, st.Meta)
				if err != nil {
					return err
				}
				r, err := st.Meta.CreateRepository(cmd.Context(), meta.Repository{AccountID: acct, Name: name,
					TagMutability: mutability, EncryptionType: "AES256", CreatedAt: time.Now()})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created repository %s in account %s (arn:aws:ecr:%s:%s:repository/%s)\n", r.Name, acct, cfg.Region, acct, r.Name)
				return nil
			})
		},
	}
	create.Flags().StringVar(&mutability, "tag-mutability", "MUTABLE", "MUTABLE or IMMUTABLE")
	config.RegisterFlags(create.Flags())

	list := &cobra.Command{
		Use:   "list",
		Short: "List repositories of the default account",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStores(cmd, func(cfg config.Config, st app.Stores) error {
				acct, err := defaultAccount(cmd, cfg, st.Meta)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tTAG MUTABILITY\tCREATED")
				after := ""
				for {
					page, err := st.Meta.ListRepositories(cmd.Context(), acct, after, 1000)
					if err != nil {
						return err
					}
					for _, r := range page {
						fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.TagMutability, r.CreatedAt.UTC().Format(time.RFC3339))
					}
					if len(page) < 1000 {
						break
					}
					after = page[len(page)-1].Name
				}
				return tw.Flush()
			})
		},
	}
	config.RegisterFlags(list.Flags())
	repo.AddCommand(create, list)
	admin.AddCommand(repo)
	iamCommands(admin)
	return admin
}

func gcCmd() *cobra.Command {
	var dry, asJSON bool
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Collect garbage now (safe while the server runs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStores(cmd, func(cfg config.Config, st app.Stores) error {
				c := &gc.Collector{Meta: st.Meta, Blobs: st.Blobs, Grace: cfg.GCGrace, UploadTTL: cfg.UploadTTL}
				rep, err := c.Run(cmd.Context(), dry)
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(cmd.OutOrStdout()).Encode(rep)
				}
				verb := "deleted"
				if dry {
					verb = "would delete"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %d blobs (%d bytes), %d expired uploads, %d orphan upload files; %d stale links dropped\n",
					verb, rep.BlobsDeleted, rep.BytesFreed, rep.UploadsReaped, rep.OrphanUploads, rep.LinksDropped)
				for _, d := range rep.DeletedDigests {
					fmt.Fprintln(cmd.OutOrStdout(), "  ", d)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&dry, "dry-run", false, "report what would be deleted and how many bytes, change nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	config.RegisterFlags(cmd.Flags())
	return cmd
}

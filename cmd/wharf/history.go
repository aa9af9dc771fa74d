package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// The tag history, rollback, platform guard and recycle bin commands. Like
// `wharf admin`, they work offline against the data directory (or the
// configured engines), through the registry core, so its rules apply
// (immutability, the guard) and a running server sees the result within
// its cache TTLs (tags 0.5 s, the guard setting 2 s).

// coreCmd is what these commands share: the account (--account) and the
// configuration flags.
type coreCmd struct {
	account string
}

func (c *coreCmd) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.account, "account", "", "account id (default: the configured or first account)")
	config.RegisterFlags(cmd.Flags())
}

// run opens the stores and the registry core and calls fn with the
// account. repo, when not "", is looked up (fn gets it).
func (c *coreCmd) run(cmd *cobra.Command, repo string, fn func(reg *registry.Service, account string, r meta.Repository) error) error {
	if repo != "" && !names.ValidRepository(repo) {
		return fmt.Errorf("invalid repository name %q", repo)
	}
	return withStores(cmd, func(cfg config.Config, st app.Stores) error {
		account := c.account
		if account == "" {
			var err error
			if account, err = defaultAccount(cmd, cfg, st.Meta); err != nil {
				return err
			}
		}
		reg := registry.New(st.Meta, st.Blobs, registry.Options{MaxManifestBytes: cfg.MaxManifestBytes, BinRetention: cfg.RecycleBinRetention})
		var r meta.Repository
		if repo != "" {
			var err error
			if r, err = reg.Repository(cmd.Context(), account, repo, false); err != nil {
				if registry.CodeOf(err) == registry.CodeNameUnknown {
					return fmt.Errorf("repository %s does not exist in account %s", repo, account)
				}
				return err
			}
		}
		return fn(reg, account, r)
	})
}

// cliActor is who the CLI records as the actor: the local user.
func cliActor() registry.Actor {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		name += "@" + h
	}
	return registry.Actor{Principal: "system:cli/" + name, Via: "cli"}
}

// cliError words a registry error for a terminal.
func cliError(err error) error {
	var re *registry.Error
	if errors.As(err, &re) {
		return errors.New(re.Message)
	}
	return err
}

func short(d string) string {
	if alg, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return alg + ":" + hex[:12]
	}
	return d
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func tagCmd() *cobra.Command {
	tag := &cobra.Command{Use: "tag", Short: "Tag history, rollback and the platform guard"}
	tag.AddCommand(tagHistoryCmd(), tagRollbackCmd(), tagGuardCmd())
	return tag
}

func tagHistoryCmd() *cobra.Command {
	var c coreCmd
	var limit int
	var full, asJSON bool
	cmd := &cobra.Command{
		Use:   "history REPO [TAG]",
		Short: "List every move of the repository's tags (or of one tag), newest first",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			tag := ""
			if len(args) == 2 {
				tag = args[1]
				if !names.ValidTag(tag) {
					return fmt.Errorf("invalid tag %q", tag)
				}
			}
			return c.run(cmd, args[0], func(reg *registry.Service, _ string, r meta.Repository) error {
				evs, err := reg.TagHistory(cmd.Context(), r, tag, 0, limit)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if asJSON {
					enc := json.NewEncoder(out)
					for _, e := range evs {
						if err := enc.Encode(map[string]any{"id": e.ID, "tag": e.Tag, "from": e.From, "to": e.To,
							"at": e.At.Format(time.RFC3339Nano), "actor": e.Actor, "via": e.Via}); err != nil {
							return err
						}
					}
					return nil
				}
				d := short
				if full {
					d = func(s string) string { return s }
				}
				tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TIME\tTAG\tFROM\tTO\tACTOR\tVIA")
				for _, e := range evs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.At.Format(time.RFC3339), e.Tag, orDash(d(e.From)), orDash(d(e.To)), e.Actor, e.Via)
				}
				return tw.Flush()
			})
		},
	}
	c.flags(cmd)
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many moves (0: all)")
	cmd.Flags().BoolVar(&full, "full", false, "print full digests")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per move")
	return cmd
}

func tagRollbackCmd() *cobra.Command {
	var c coreCmd
	var to string
	var steps int
	var allowPlatform bool
	cmd := &cobra.Command{
		Use:   "rollback REPO TAG (--steps N | --to DIGEST)",
		Short: "Move a tag back to an earlier image (recorded in the tag history, audited)",
		Long: `Move a tag back to where it pointed N moves ago (--steps, default 1) or to an image of the
repository (--to). An immutable tag is never moved. With the platform guard on, a target outside the
tag's own history must have the same platforms unless --allow-platform-change is given.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to != "" && cmd.Flags().Changed("steps") {
				return errors.New("give --steps or --to, not both")
			}
			rb := registry.Rollback{Tag: args[1], Digest: to, PlatformOverride: allowPlatform}
			if to == "" {
				rb.Steps = steps
			}
			return c.run(cmd, args[0], func(reg *registry.Service, _ string, r meta.Repository) error {
				res, err := reg.RollbackTag(cmd.Context(), r, rb, cliActor())
				if err != nil {
					return cliError(err)
				}
				if !res.Moved {
					fmt.Fprintf(cmd.OutOrStdout(), "%s:%s already points at %s\n", r.Name, res.Tag, res.To)
					return nil
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s:%s rolled back: %s -> %s\n", r.Name, res.Tag, orDash(res.From), res.To)
				return nil
			})
		},
	}
	c.flags(cmd)
	cmd.Flags().IntVar(&steps, "steps", 1, "how many moves back")
	cmd.Flags().StringVar(&to, "to", "", "the digest to move the tag to")
	cmd.Flags().BoolVar(&allowPlatform, "allow-platform-change", false, "let the move change platforms although the platform guard is on")
	return cmd
}

func tagGuardCmd() *cobra.Command {
	var c coreCmd
	cmd := &cobra.Command{
		Use:   "guard REPO [on|off]",
		Short: "Show or set the repository's platform guard (refuse tag moves across platforms)",
		Long: `With the platform guard on, a push that moves an existing tag to an image whose platforms
(os/arch[/variant] from its config, or of an index's entries) differ from those of the image the tag
points at is refused, naming both platform sets. Send the header X-Wharf-Platform-Override: true
(on /v2/ or with PutImage) to change platforms on purpose, or roll back with --allow-platform-change.
A running server applies a change made here within 2 seconds (at once through PutPlatformGuard).`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var on *bool
			if len(args) == 2 {
				switch strings.ToLower(args[1]) {
				case "on":
					on = new(bool)
					*on = true
				case "off":
					on = new(bool)
				default:
					return fmt.Errorf("want on or off, not %q", args[1])
				}
			}
			return c.run(cmd, args[0], func(reg *registry.Service, _ string, r meta.Repository) error {
				var g meta.PlatformGuard
				var err error
				if on != nil {
					g, err = reg.SetPlatformGuard(cmd.Context(), r, *on, cliActor())
				} else {
					g, err = reg.PlatformGuard(cmd.Context(), r)
				}
				if err != nil {
					return cliError(err)
				}
				state := "off"
				if g.Enabled {
					state = "on"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "platform guard on %s: %s", r.Name, state)
				if !g.UpdatedAt.IsZero() {
					fmt.Fprintf(cmd.OutOrStdout(), " (set %s by %s)", g.UpdatedAt.Format(time.RFC3339), g.UpdatedBy)
				}
				fmt.Fprintln(cmd.OutOrStdout())
				return nil
			})
		},
	}
	c.flags(cmd)
	return cmd
}

func binCmd() *cobra.Command {
	bin := &cobra.Command{Use: "bin", Short: "The recycle bin of deleted images"}
	bin.AddCommand(binListCmd(), binRestoreCmd())
	return bin
}

func binListCmd() *cobra.Command {
	var c coreCmd
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [REPO]",
		Short: "List deleted images that can still be restored, newest deletion first",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo := ""
			if len(args) == 1 {
				repo = args[0]
			}
			return c.run(cmd, repo, func(reg *registry.Service, account string, r meta.Repository) error {
				var rp *meta.Repository
				if repo != "" {
					rp = &r
				}
				var all []meta.BinEntry
				var after meta.BinCursor
				for {
					page, err := reg.ListBin(cmd.Context(), account, rp, after, 1000)
					if err != nil {
						return err
					}
					all = append(all, page...)
					if len(page) < 1000 {
						break
					}
					last := page[len(page)-1]
					after = meta.BinCursor{DeletedAt: last.DeletedAt, RepoID: last.Manifest.RepoID, Digest: last.Manifest.Digest}
				}
				return printBin(cmd.OutOrStdout(), all, asJSON)
			})
		},
	}
	c.flags(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per entry")
	return cmd
}

func printBin(out io.Writer, entries []meta.BinEntry, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(out)
		for _, e := range entries {
			tags := slices.Clone(e.Tags)
			if tags == nil {
				tags = []string{}
			}
			if err := enc.Encode(map[string]any{"repository": e.Repository, "digest": e.Manifest.Digest, "tags": tags,
				"mediaType": e.Manifest.MediaType, "deletedAt": e.DeletedAt.Format(time.RFC3339Nano),
				"expiresAt": e.ExpiresAt.Format(time.RFC3339Nano), "deletedBy": e.DeletedBy, "via": e.Via}); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tDIGEST\tTAGS\tDELETED\tEXPIRES\tBY\tVIA")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Repository, e.Manifest.Digest, orDash(strings.Join(e.Tags, ",")),
			e.DeletedAt.Format(time.RFC3339), e.ExpiresAt.Format(time.RFC3339), e.DeletedBy, e.Via)
	}
	return tw.Flush()
}

func binRestoreCmd() *cobra.Command {
	var c coreCmd
	cmd := &cobra.Command{
		Use:   "restore REPO DIGEST",
		Short: "Bring a deleted image back with its tags (tags moved meanwhile are left where they are)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := names.ParseDigest(args[1]); err != nil {
				return fmt.Errorf("invalid digest %q", args[1])
			}
			return c.run(cmd, args[0], func(reg *registry.Service, _ string, r meta.Repository) error {
				res, err := reg.RestoreImage(cmd.Context(), r, args[1], cliActor())
				if err != nil {
					return cliError(err)
				}
				out := cmd.OutOrStdout()
				for _, im := range res.Images {
					fmt.Fprintf(out, "restored %s@%s", r.Name, im.Digest)
					if len(im.Tags) > 0 {
						fmt.Fprintf(out, " with tags %s", strings.Join(im.Tags, ", "))
					}
					fmt.Fprintln(out)
					for _, t := range sortedKeys(im.Skipped) {
						fmt.Fprintf(out, "  tag %s not restored: it points at %s now\n", t, im.Skipped[t])
					}
				}
				return nil
			})
		},
	}
	c.flags(cmd)
	return cmd
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/names"
	wscan "github.com/wharfhq/wharf/internal/scan"
	"github.com/wharfhq/wharf/internal/scan/sbom"
	"github.com/wharfhq/wharf/internal/scan/sbomsvc"
	"github.com/wharfhq/wharf/internal/scan/suppress"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// The SBOM and suppression commands. Like `wharf tag`, they work against
// the data directory (or the configured engines) through the registry
// core; a running server sees a new suppression within its gate cache TTL
// (2 s).

func scanCmd() *cobra.Command {
	scan := &cobra.Command{Use: "scan", Short: "SBOMs, finding suppressions and scan eligibility"}
	scan.AddCommand(scanSBOMCmd(), scanSuppressCmd(), scanUnsuppressCmd(), scanSuppressionsCmd(), scanEligibilityCmd())
	return scan
}

func scanSBOMCmd() *cobra.Command {
	var c coreCmd
	var format, platform, output, host string
	var attach bool
	cmd := &cobra.Command{
		Use:   "sbom REPO REF",
		Short: "Write the SBOM of an image (CycloneDX 1.6 or SPDX 2.3 JSON); --attach adds it to the image as a referrer",
		Long: `Write the software bill of materials of an image (REF is a tag or a digest) to stdout or --output.
The inventory is the one the scanner stored, or is extracted from the image's layers when none is.
For a multi-platform index, --platform chooses the image (os/arch[/variant]).
--attach pushes the document as an OCI artifact whose subject is the image (artifactType
application/vnd.cyclonedx+json or application/spdx+json), so 'oras discover' lists it.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, ok := sbom.ParseFormat(format)
			if !ok {
				return fmt.Errorf("--format %q: want cyclonedx or spdx", format)
			}
			ref, err := names.ParseReference(args[1])
			if err != nil {
				return fmt.Errorf("invalid reference %q: %v", args[1], err)
			}
			return c.run(cmd, args[0], func(reg *registry.Service, account string, r meta.Repository) error {
				ctx := cmd.Context()
				svc := &sbomsvc.Service{Registry: reg, ToolVersion: version(), Inventories: sbomsvc.StoredInventories{Store: reg.Meta()}}
				m, err := reg.GetManifest(ctx, r, ref)
				if err != nil {
					return cliError(err)
				}
				if m, err = svc.Platform(ctx, r, m, platform); err != nil {
					return cliError(err)
				}
				h := host
				if h == "" {
					h = registryHost(cmd)
				}
				doc, err := svc.Generate(ctx, r, m, f, h)
				if errors.Is(err, sbomsvc.ErrNotImage) {
					return fmt.Errorf("%s is not a container image (an artifact?): it has no SBOM", m.Digest)
				}
				if err != nil {
					return cliError(err)
				}
				out := cmd.OutOrStdout()
				if output != "" && output != "-" {
					if err := os.WriteFile(output, doc.Content, 0o644); err != nil {
						return err
					}
				} else if _, err := out.Write(doc.Content); err != nil {
					return err
				}
				if attach {
					att, err := svc.Attach(ctx, r, doc, cliActor())
					if err != nil {
						return cliError(err)
					}
					verb := "attached"
					if att.Existing {
						verb = "already attached"
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "%s %s to %s@%s as %s\n", verb, doc.MediaType, r.Name, m.Digest, att.Digest)
				}
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "cyclonedx", "cyclonedx (CycloneDX 1.6) or spdx (SPDX 2.3)")
	fl.StringVar(&platform, "platform", "", "the platform of a multi-platform image (os/arch[/variant])")
	fl.StringVarP(&output, "output", "o", "", "write the document to this file (default stdout)")
	fl.StringVar(&host, "registry-host", "", "the registry address in the image's package URL (default: the public URL's or listen address)")
	fl.BoolVar(&attach, "attach", false, "attach the document to the image as an OCI referrer artifact")
	c.flags(cmd)
	return cmd
}

// registryHost is the address clients pull from: the public URL's host,
// else the listen address.
func registryHost(cmd *cobra.Command) string {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return ""
	}
	if u, err := url.Parse(cfg.PublicURL); err == nil && u.Host != "" {
		return u.Host
	}
	return cfg.Listen
}

// suppressionKey is what the suppress commands share.
type suppressionKey struct {
	registry   bool
	pkg, image string
}

func (k *suppressionKey) flags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&k.registry, "registry", false, "the suppression is registry-wide (give no REPO)")
	cmd.Flags().StringVar(&k.pkg, "package", "", "only findings in this package (name, source package name or package URL)")
	cmd.Flags().StringVar(&k.image, "image", "", "only findings of this image manifest digest")
}

// resolve returns the repository argument (meta.RegistryWide with
// --registry) and the finding id.
func (k *suppressionKey) resolve(args []string) (repo, finding string, err error) {
	switch {
	case k.registry && len(args) == 1:
		return meta.RegistryWide, args[0], nil
	case !k.registry && len(args) == 2:
		if !names.ValidRepository(args[0]) {
			return "", "", fmt.Errorf("invalid repository name %q", args[0])
		}
		return args[0], args[1], nil
	case k.registry:
		return "", "", errors.New("with --registry, give only the finding id")
	}
	return "", "", errors.New("give REPO and FINDING-ID (or --registry and FINDING-ID)")
}

func (k *suppressionKey) image0() (string, error) {
	if k.image == "" {
		return "", nil
	}
	d, err := names.ParseDigest(k.image)
	if err != nil {
		return "", fmt.Errorf("--image %q: not a digest", k.image)
	}
	return string(d), nil
}

// withSuppressions opens the stores and checks the repository exists.
func withSuppressions(cmd *cobra.Command, c *coreCmd, repo string, fn func(svc *suppress.Service, account string) error) error {
	lookup := repo
	if repo == meta.RegistryWide {
		lookup = ""
	}
	return c.run(cmd, lookup, func(reg *registry.Service, account string, _ meta.Repository) error {
		return fn(&suppress.Service{Store: reg.Meta()}, account)
	})
}

func scanSuppressCmd() *cobra.Command {
	var c coreCmd
	var k suppressionKey
	var justification string
	var expires time.Duration
	var until string
	cmd := &cobra.Command{
		Use:   "suppress [REPO] FINDING-ID --justification TEXT (--expires 720h | --until TIME)",
		Short: "Suppress a finding (CVE-...) in a repository, or registry-wide, until an expiry at most a year ahead",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, finding, err := k.resolve(args)
			if err != nil {
				return err
			}
			img, err := k.image0()
			if err != nil {
				return err
			}
			var exp time.Time
			switch {
			case until != "" && expires != 0:
				return errors.New("give --expires or --until, not both")
			case until != "":
				if exp, err = time.Parse(time.RFC3339, until); err != nil {
					return fmt.Errorf("--until: want RFC 3339 (2026-12-31T00:00:00Z): %v", err)
				}
			case expires > 0:
				exp = time.Now().Add(expires)
			default:
				return errors.New("an expiry is required: --expires DURATION (e.g. 720h) or --until TIME")
			}
			return withSuppressions(cmd, &c, repo, func(svc *suppress.Service, account string) error {
				s, replaced, err := svc.Put(cmd.Context(), meta.Suppression{AccountID: account, Repository: repo, FindingID: finding,
					Package: k.pkg, Digest: img, Justification: justification, ExpiresAt: exp}, cliActor().Principal)
				if err != nil {
					return err
				}
				verb := "suppressed"
				if replaced {
					verb = "replaced the suppression of"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s in %s until %s\n", verb, s.FindingID, scopeName(s), s.ExpiresAt.Format(time.RFC3339))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&justification, "justification", "", "why the finding does not apply (required)")
	cmd.Flags().DurationVar(&expires, "expires", 0, "expire after this long (at most 8784h, a year)")
	cmd.Flags().StringVar(&until, "until", "", "expire at this time (RFC 3339)")
	k.flags(cmd)
	c.flags(cmd)
	return cmd
}

func scopeName(s meta.Suppression) string {
	where := s.Repository
	if where == meta.RegistryWide {
		where = "every repository"
	}
	if s.Package != "" {
		where += ", package " + s.Package
	}
	if s.Digest != "" {
		where += ", image " + short(s.Digest)
	}
	return where
}

func scanUnsuppressCmd() *cobra.Command {
	var c coreCmd
	var k suppressionKey
	cmd := &cobra.Command{
		Use:   "unsuppress [REPO] FINDING-ID",
		Short: "Lift a suppression (the same --registry, --package and --image as it was made with)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, finding, err := k.resolve(args)
			if err != nil {
				return err
			}
			img, err := k.image0()
			if err != nil {
				return err
			}
			return withSuppressions(cmd, &c, repo, func(svc *suppress.Service, account string) error {
				s, err := svc.Delete(cmd.Context(), meta.Suppression{AccountID: account, Repository: repo, FindingID: finding, Package: k.pkg, Digest: img}, cliActor().Principal)
				if errors.Is(err, meta.ErrNotFound) {
					return fmt.Errorf("no suppression of %s in %s", finding, scopeName(meta.Suppression{Repository: repo, Package: k.pkg, Digest: img}))
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "lifted the suppression of %s in %s\n", s.FindingID, scopeName(s))
				return nil
			})
		},
	}
	k.flags(cmd)
	c.flags(cmd)
	return cmd
}

func scanSuppressionsCmd() *cobra.Command {
	var c coreCmd
	var expired, asJSON bool
	var finding string
	cmd := &cobra.Command{
		Use:   "suppressions [REPO]",
		Short: "List suppressions: of a repository (with the registry-wide ones), or all",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo := ""
			if len(args) == 1 {
				repo = args[0]
			}
			return c.run(cmd, repo, func(reg *registry.Service, account string, _ meta.Repository) error {
				f := meta.SuppressionFilter{AccountID: account, Repository: repo, IncludeRegistryWide: true, FindingID: finding}
				now := time.Now()
				if !expired {
					f.ActiveAt = now
				}
				list, err := reg.Meta().ListSuppressions(cmd.Context(), f)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if asJSON {
					enc := json.NewEncoder(out)
					for _, s := range list {
						if err := enc.Encode(map[string]any{"repository": s.Repository, "findingId": s.FindingID, "package": s.Package,
							"imageDigest": s.Digest, "justification": s.Justification, "expiresAt": s.ExpiresAt.Format(time.RFC3339),
							"createdBy": s.CreatedBy, "createdAt": s.CreatedAt.Format(time.RFC3339), "expired": !suppress.Active(s, now)}); err != nil {
							return err
						}
					}
					return nil
				}
				tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "REPOSITORY\tFINDING\tPACKAGE\tIMAGE\tEXPIRES\tBY\tJUSTIFICATION")
				for _, s := range list {
					exp := s.ExpiresAt.Format(time.RFC3339)
					if !suppress.Active(s, now) {
						exp += " (expired)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Repository, s.FindingID, orDash(s.Package), orDash(short(s.Digest)),
						exp, s.CreatedBy, s.Justification)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&expired, "expired", false, "include expired suppressions")
	cmd.Flags().StringVar(&finding, "finding", "", "only suppressions of this finding id")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per line")
	c.flags(cmd)
	return cmd
}

// eligibilityDuration reads a duration flag: Inspector's values
// (LIFETIME, DAYS_30), case aside, or the short forms "lifetime", "30d".
func eligibilityDuration(v string) string {
	u := strings.ToUpper(strings.TrimSpace(v))
	if n, ok := strings.CutSuffix(u, "D"); ok && n != "" && strings.Trim(n, "0123456789") == "" {
		return "DAYS_" + n
	}
	return u
}

func scanEligibilityCmd() *cobra.Command {
	var c coreCmd
	var push, pull string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "eligibility [--push LIFETIME|14d|30d|60d|90d|180d] [--pull none|14d|30d|60d|90d|180d]",
		Short: "Show or set how long continuous scanning re-matches an image after its push and after its last pull",
		Long: `Show or set the registry's scan eligibility (Amazon Inspector's ECR re-scan durations).

Under continuous scanning (ENHANCED, CONTINUOUS_SCAN), an image is re-matched
against new vulnerability data while it was pushed (or tagged, or asked a scan
of) within --push, or pulled within --pull. Past both, its scan reads
SCAN_ELIGIBILITY_EXPIRED and its findings stay as last observed; a pull, a push
or StartImageScan brings it back. The default, LIFETIME, never expires.
Setting it queues a rescan that applies it. Without flags, prints it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.run(cmd, "", func(reg *registry.Service, account string, _ meta.Repository) error {
				ctx := cmd.Context()
				e, err := wscan.LoadEligibility(ctx, reg.Meta(), account)
				if err != nil {
					return err
				}
				set := cmd.Flags().Changed("push") || cmd.Flags().Changed("pull")
				if set {
					if cmd.Flags().Changed("push") {
						e.RescanDuration = eligibilityDuration(push)
					}
					if cmd.Flags().Changed("pull") {
						e.PullDateRescanDuration = eligibilityDuration(pull)
						if e.PullDateRescanDuration == "NONE" {
							e.PullDateRescanDuration = ""
						}
					}
					if e, err = wscan.SaveEligibility(ctx, reg.Meta(), account, e, time.Now(), cliActor().Principal); err != nil {
						return err
					}
				}
				out := cmd.OutOrStdout()
				if asJSON {
					return json.NewEncoder(out).Encode(e)
				}
				pd := e.PullDateRescanDuration
				if pd == "" {
					pd = "none"
				}
				verb := "scan eligibility of"
				if set {
					verb = "set the scan eligibility of"
				}
				fmt.Fprintf(out, "%s %s: push %s, pull %s\n", verb, account, e.RescanDuration, pd)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&push, "push", "", "duration after the push: LIFETIME (never expires), or 14d, 30d, 60d, 90d, 180d")
	cmd.Flags().StringVar(&pull, "pull", "", "duration after the last pull: none, 14d, 30d, 60d, 90d, 180d")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print it as JSON")
	c.flags(cmd)
	return cmd
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wharfhq/wharf/internal/migrate"
)

func migrateCmd() *cobra.Command {
	var (
		from, fromMeta, fromBlobs string
		to, toMeta, toBlobs       string
		workers                   int
		trust, asJSON, quiet      bool
	)
	cmd := &cobra.Command{
		Use:   "migrate --from SOURCE --to DESTINATION",
		Short: "Copy a whole registry to other stores (embedded -> PostgreSQL + S3, or back)",
		Long: `Copy a whole registry, without loss, from one pair of stores to another: every account,
user, access key, policy, repository and setting, resource tag, blob (hashed on the way and
read back from the destination and hashed again), manifest (byte for byte, with push and
pull times), tag and the complete tag history.

A location is a data directory (the embedded SQLite database and filesystem blobs of
'wharf serve --data DIR') or a comma-separated pair of store URLs, as 'wharf serve'
takes them with --metadata and --blobs:

  wharf migrate --from /var/lib/wharf \
    --to 'postgres://wharf@db:5432/wharf,s3://registry/wharf?region=eu-west-1'

--from-metadata/--from-blobs and --to-metadata/--to-blobs name one store each and win
over --from/--to. S3 credentials come from the AWS default chain (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, shared files, instance roles).

The copy is idempotent and resumable: run it again after an interruption (or while the
source kept serving) and it skips what the destination holds already and copies the rest.
The destination must be empty or an earlier copy of the same source, and no server may
run on it meanwhile. The token key (<data>/token-key) is not in the stores: copy it to the
new nodes yourself (see docs/deployment.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := location("--from", from, fromMeta, fromBlobs)
			if err != nil {
				return err
			}
			dst, err := location("--to", to, toMeta, toBlobs)
			if err != nil {
				return err
			}
			if src.Metadata == dst.Metadata || src.Blobs == dst.Blobs {
				return errors.New("source and destination share a store")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			level := slog.LevelInfo
			if quiet {
				level = slog.LevelWarn
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))

			logger.Info("opening source", "location", src.String())
			s, err := migrate.Open(ctx, src, true)
			if err != nil {
				return fmt.Errorf("source: %w", err)
			}
			defer s.Close()
			logger.Info("opening destination", "location", dst.String())
			d, err := migrate.Open(ctx, dst, false)
			if err != nil {
				return fmt.Errorf("destination: %w", err)
			}
			defer d.Close()

			c := &migrate.Copier{SrcMeta: s.Meta, SrcBlobs: s.Blobs, DstMeta: d.Meta, DstBlobs: d.Blobs,
				Options: migrate.Options{Workers: workers, TrustExisting: trust, Logger: logger}}
			rep, runErr := c.Run(ctx)
			out := cmd.OutOrStdout()
			if asJSON {
				if err := json.NewEncoder(out).Encode(rep); err != nil {
					return err
				}
			} else if err := rep.Print(out); err != nil {
				return err
			}
			if runErr != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("interrupted: %w (run the same command again to resume)", runErr)
				}
				return fmt.Errorf("migration incomplete: %w (fix the cause and run the same command again to resume)", runErr)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "source: a data directory, or postgres://...,s3://...")
	f.StringVar(&fromMeta, "from-metadata", "", "source metadata store: postgres:// URL or data directory")
	f.StringVar(&fromBlobs, "from-blobs", "", "source blob store: s3:// URL or data directory")
	f.StringVar(&to, "to", "", "destination: postgres://...,s3://..., or a data directory")
	f.StringVar(&toMeta, "to-metadata", "", "destination metadata store: postgres:// URL or data directory")
	f.StringVar(&toBlobs, "to-blobs", "", "destination blob store: s3:// URL or data directory")
	f.IntVar(&workers, "workers", 4, "blobs copied at once")
	f.BoolVar(&trust, "trust-existing", false, "do not read back blobs the destination holds already with the right size (faster resume)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&quiet, "quiet", false, "log only warnings and errors")
	return cmd
}

// location resolves a --from/--to flag and its per-store overrides.
func location(flag, spec, metadata, blobs string) (migrate.Location, error) {
	var l migrate.Location
	if spec != "" {
		var err error
		if l, err = migrate.ParseLocation(spec); err != nil {
			return l, fmt.Errorf("%s: %w", flag, err)
		}
	}
	if metadata != "" {
		l.Metadata = metadata
	}
	if blobs != "" {
		l.Blobs = blobs
	}
	if err := l.Complete(); err != nil {
		return l, fmt.Errorf("%s: %w", flag, err)
	}
	return l, nil
}

package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wharfhq/wharf/internal/listen"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/config"
)

func serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the registry (OCI API at /v2/, metrics, health)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			logger := newLogger(cfg, os.Stderr)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			a, err := app.New(ctx, cfg, logger)
			if err != nil {
				return err
			}
			defer a.Close()
			if a.Bootstrap.Created {
				// Printed once, on the terminal, never through the logger.
				fmt.Fprintf(os.Stderr, "\nWharf created the default account and its admin key (saved to %s):\n  account id:        %s\n  access key id:     %s\n  secret access key: %s\n\n",
					filepath.Join(cfg.DataDir, app.CredentialsFile), a.Bootstrap.AccountID, a.Bootstrap.AccessKeyID, a.Bootstrap.Secret)
			}
			if addr := os.Getenv("WHARF_DEBUG_PPROF"); addr != "" {
				// Profiling endpoints on a separate, operator-chosen address.
				go func() {
					mux := http.NewServeMux()
					mux.HandleFunc("/debug/pprof/", pprof.Index)
					mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
					logger.Warn("pprof listening", "addr", addr, "err", http.ListenAndServe(addr, mux))
				}()
			}
			ln, err := listen.TCP(cmd.Context(), cfg.Listen, listen.Options{NotSentLowat: int(cfg.TCPNotSentLowat)})
			if err != nil {
				return err
			}
			logger.Info("wharf serving", "listen", ln.Addr().String(), "data_dir", cfg.DataDir, "account", a.Bootstrap.AccountID,
				"region", cfg.Region, "anonymous", cfg.Anonymous, "version", version())
			if cfg.MetricsListen != "" {
				mln, err := net.Listen("tcp", cfg.MetricsListen)
				if err != nil {
					ln.Close()
					return err
				}
				logger.Info("metrics serving without authentication", "metrics_listen", mln.Addr().String())
				go func() {
					if err := a.ServeOps(ctx, mln); err != nil {
						logger.Error("metrics listener failed", "err", err)
					}
				}()
			}
			if cfg.Anonymous {
				logger.Warn("authentication is OFF (--anonymous): anyone can push and pull; never use this outside development")
			}
			return a.Serve(ctx, ln)
		},
	}
	config.RegisterFlags(cmd.Flags())
	return cmd
}

// loadConfig reads the configuration: defaults < file < WHARF_* < flags.
func loadConfig(cmd *cobra.Command) (config.Config, error) {
	cfg, err := config.Load(cmd.Flags(), os.Environ())
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.SlogLevel()}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

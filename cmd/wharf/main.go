// Command wharf is the Wharf registry: a self-hosted, ECR-compatible OCI
// registry in one binary.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := rootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "wharf:", err)
		os.Exit(1)
	}
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "wharf",
		Short:         "Wharf: a self-hosted, ECR-compatible container registry",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCmd(), versionCmd(), adminCmd(), gcCmd(), migrateCmd(), auditCmd(), lifecycleCmd())
	root.AddCommand(tagCmd(), binCmd())
	root.AddCommand(scanCmd(), vulndbCmd())
	return root
}

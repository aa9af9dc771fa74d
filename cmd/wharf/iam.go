package main

import (
	"fmt"
	"os"
	"regexp"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/policy"
	"github.com/wharfhq/wharf/internal/store/meta"
)

var userNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)

// iamCommands adds account, user, key and policy management to admin.
func iamCommands(admin *cobra.Command) {
	var accountFlag string
	accountOf := func(cmd *cobra.Command, cfg config.Config, m meta.Store) (string, error) {
		if accountFlag != "" {
			if _, err := m.GetAccount(cmd.Context(), accountFlag); err != nil {
				return "", fmt.Errorf("account %s: %w", accountFlag, err)
			}
			return accountFlag, nil
		}
		return defaultAccount(cmd, cfg, m)
	}
	withAccount := func(c *cobra.Command) *cobra.Command {
		c.Flags().StringVar(&accountFlag, "account", "", "account id (default: the default account)")
		config.RegisterFlags(c.Flags())
		return c
	}

	account := &cobra.Command{Use: "account", Short: "Manage accounts"}
	var newID string
	accountCreate := &cobra.Command{
		Use:   "create",
		Short: "Create an account with a root access key (printed once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStores(cmd, func(cfg config.Config, st app.Stores) error {
				id := newID
				if id == "" {
					id = app.NewAccountID()
				}
				if !regexp.MustCompile(`^[0-9]{12}$`).MatchString(id) {
					return fmt.Errorf("account id must be 12 digits")
				}
				now := time.Now()
				if err := st.Meta.CreateAccount(cmd.Context(), meta.Account{ID: id, Name: id, CreatedAt: now}); err != nil {
					return err
				}
				kid, sec := app.NewKeyPair()
				if err := st.Meta.PutAccessKey(cmd.Context(), meta.AccessKey{AccessKeyID: kid, Secret: sec, AccountID: id, Active: true, CreatedAt: now}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "account id:        %s\naccess key id:     %s\nsecret access key: %s\n", id, kid, sec)
				return nil
			})
		},
	}
	accountCreate.Flags().StringVar(&newID, "id", "", "12-digit account id (default: random)")
	config.RegisterFlags(accountCreate.Flags())
	accountList := &cobra.Command{
		Use: "list", Short: "List accounts", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStores(cmd, func(cfg config.Config, st app.Stores) error {
				accts, err := st.Meta.ListAccounts(cmd.Context())
				if err != nil {
					return err
				}
				for _, a := range accts {
					fmt.Fprintln(cmd.OutOrStdout(), a.ID)
				}
				return nil
			})
		},
	}
	config.RegisterFlags(accountList.Flags())
	account.AddCommand(accountCreate, accountList)

	user := &cobra.Command{Use: "user", Short: "Manage IAM users"}
	user.AddCommand(
		withAccount(&cobra.Command{
			Use: "create NAME", Short: "Create a user", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if !userNameRE.MatchString(args[0]) {
					return fmt.Errorf("invalid user name %q", args[0])
				}
				return withStores(cmd, func(cfg config.Config, st app.Stores) error {
					acct, err := accountOf(cmd, cfg, st.Meta)
					if err != nil {
						return err
					}
					if err := st.Meta.CreateUser(cmd.Context(), meta.User{AccountID: acct, Name: args[0], CreatedAt: time.Now()}); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "created arn:aws:iam::%s:user/%s\n", acct, args[0])
					return nil
				})
			},
		}),
		withAccount(&cobra.Command{
			Use: "list", Short: "List users", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return withStores(cmd, func(cfg config.Config, st app.Stores) error {
					acct, err := accountOf(cmd, cfg, st.Meta)
					if err != nil {
						return err
					}
					users, err := st.Meta.ListUsers(cmd.Context(), acct)
					if err != nil {
						return err
					}
					for _, u := range users {
						fmt.Fprintf(cmd.OutOrStdout(), "arn:aws:iam::%s:user/%s\n", acct, u.Name)
					}
					return nil
				})
			},
		}),
		withAccount(&cobra.Command{
			Use: "delete NAME", Short: "Delete a user with its keys and policies", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withStores(cmd, func(cfg config.Config, st app.Stores) error {
					acct, err := accountOf(cmd, cfg, st.Meta)
					if err != nil {
						return err
					}
					return st.Meta.DeleteUser(cmd.Context(), acct, args[0])
				})
			},
		}),
	)

	var keyUser string
	key := &cobra.Command{Use: "key", Short: "Manage access keys"}
	keyCreate := withAccount(&cobra.Command{
		Use: "create", Short: "Create an access key (secret printed once)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStores(cmd, func(cfg config.Config, st app.Stores) error {
				acct, err := accountOf(cmd, cfg, st.Meta)
				if err != nil {
					return err
				}
				if keyUser != "" {
					if _, err := st.Meta.GetUser(cmd.Context(), acct, keyUser); err != nil {
						return fmt.Errorf("user %s: %w", keyUser, err)
					}
				}
				kid, sec := app.NewKeyPair()
				if err := st.Meta.PutAccessKey(cmd.Context(), meta.AccessKey{AccessKeyID: kid, Secret: sec, AccountID: acct, UserName: keyUser, Active: true, CreatedAt: time.Now()}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "access key id:     %s\nsecret access key: %s\n", kid, sec)
				return nil
			})
		},
	})
	keyCreate.Flags().StringVar(&keyUser, "user", "", "user name (default: the account root)")
	keyList := withAccount(&cobra.Command{
		Use: "list", Short: "List access keys (never their secrets)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStores(cmd, func(cfg config.Config, st app.Stores) error {
				acct, err := accountOf(cmd, cfg, st.Meta)
				if err != nil {
					return err
				}
				keys, err := st.Meta.ListAccessKeys(cmd.Context(), acct, keyUser)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ACCESS KEY ID\tSTATUS\tCREATED")
				for _, k := range keys {
					status := "Active"
					if !k.Active {
						status = "Inactive"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\n", k.AccessKeyID, status, k.CreatedAt.UTC().Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	})
	keyList.Flags().StringVar(&keyUser, "user", "", "user name (default: the account root)")
	setActive := func(active bool) func(cmd *cobra.Command, args []string) error {
		return func(cmd *cobra.Command, args []string) error {
			return withStores(cmd, func(cfg config.Config, st app.Stores) error {
				k, err := st.Meta.GetAccessKey(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				k.Active = active
				return st.Meta.PutAccessKey(cmd.Context(), k)
			})
		}
	}
	keyDeactivate := &cobra.Command{Use: "deactivate ID", Short: "Deactivate an access key", Args: cobra.ExactArgs(1), RunE: setActive(false)}
	keyActivate := &cobra.Command{Use: "activate ID", Short: "Reactivate an access key", Args: cobra.ExactArgs(1), RunE: setActive(true)}
	keyDelete := &cobra.Command{Use: "delete ID", Short: "Delete an access key", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStores(cmd, func(cfg config.Config, st app.Stores) error {
				return st.Meta.DeleteAccessKey(cmd.Context(), args[0])
			})
		}}
	for _, c := range []*cobra.Command{keyDeactivate, keyActivate, keyDelete} {
		config.RegisterFlags(c.Flags())
	}
	key.AddCommand(keyCreate, keyList, keyDeactivate, keyActivate, keyDelete)

	var polUser, polName, polFile string
	pol := &cobra.Command{Use: "policy", Short: "Manage users' identity policies"}
	polPut := withAccount(&cobra.Command{
		Use: "put", Short: "Attach (or replace) an inline identity policy", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			doc, err := os.ReadFile(polFile)
			if err != nil {
				return err
			}
			p, err := policy.Parse(doc)
			if err == nil {
				err = p.ValidateIdentity()
			}
			if err != nil {
				return fmt.Errorf("invalid identity policy: %w", err)
			}
			return withStores(cmd, func(cfg config.Config, st app.Stores) error {
				acct, err := accountOf(cmd, cfg, st.Meta)
				if err != nil {
					return err
				}
				return st.Meta.PutUserPolicy(cmd.Context(), meta.UserPolicy{AccountID: acct, UserName: polUser, Name: polName, Document: string(doc)})
			})
		},
	})
	polPut.Flags().StringVar(&polFile, "file", "", "policy document (JSON)")
	polList := withAccount(&cobra.Command{
		Use: "list", Short: "List a user's policies", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStores(cmd, func(cfg config.Config, st app.Stores) error {
				acct, err := accountOf(cmd, cfg, st.Meta)
				if err != nil {
					return err
				}
				ps, err := st.Meta.ListUserPolicies(cmd.Context(), acct, polUser)
				if err != nil {
					return err
				}
				for _, p := range ps {
					fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\n\n", p.Name, p.Document)
				}
				return nil
			})
		},
	})
	polDelete := withAccount(&cobra.Command{
		Use: "delete", Short: "Detach a user's inline policy", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStores(cmd, func(cfg config.Config, st app.Stores) error {
				acct, err := accountOf(cmd, cfg, st.Meta)
				if err != nil {
					return err
				}
				return st.Meta.DeleteUserPolicy(cmd.Context(), acct, polUser, polName)
			})
		},
	})
	for _, c := range []*cobra.Command{polPut, polList, polDelete} {
		c.Flags().StringVar(&polUser, "user", "", "user name")
		_ = c.MarkFlagRequired("user")
	}
	for _, c := range []*cobra.Command{polPut, polDelete} {
		c.Flags().StringVar(&polName, "name", "inline", "policy name")
	}
	pol.AddCommand(polPut, polList, polDelete)

	admin.AddCommand(account, user, key, pol)
}

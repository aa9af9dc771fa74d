package wharfapi

import (
	"context"

	"github.com/wharfhq/wharf/internal/awsjson"
)

// TestWhoAmI is an operation only the tests register: it exercises the
// framework (authentication, the wharf: action namespace) on its own.
type whoAmIInput struct {
	RegistryID *string `json:"registryId,omitzero"`
}

type whoAmIOutput struct {
	Principal string `json:"principal"`
	Account   string `json:"account"`
}

func init() {
	registerOps(func(s *Server, h *awsjson.Handler) {
		awsjson.Register(h, "TestWhoAmI", func(ctx context.Context, in *whoAmIInput) (*whoAmIOutput, error) {
			account := registryID(ctx, in.RegistryID)
			if err := s.authorize(ctx, account, "", Action("TestWhoAmI")); err != nil {
				return nil, err
			}
			return &whoAmIOutput{Principal: caller(ctx).String(), Account: account}, nil
		})
	})
}

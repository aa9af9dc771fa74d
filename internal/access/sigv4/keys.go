package sigv4

import (
	"context"
	"errors"

	"github.com/wharfhq/wharf/internal/access"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// KeyLookup adapts an access key store to Verifier.Lookup. The credential's
// Principal is the access.Principal that owns the key.
func KeyLookup(keys access.KeyStore) func(ctx context.Context, id string) (Credential, error) {
	return func(ctx context.Context, id string) (Credential, error) {
		k, err := keys.GetAccessKey(ctx, id)
		if errors.Is(err, meta.ErrNotFound) {
			return Credential{}, ErrUnknownAccessKey
		}
		if err != nil {
			return Credential{}, err
		}
		if !k.Active {
			return Credential{}, ErrUnknownAccessKey
		}
		return Credential{Secret: k.Secret, Principal: access.Principal{AccountID: k.AccountID, UserName: k.UserName, AccessKeyID: k.AccessKeyID}}, nil
	}
}

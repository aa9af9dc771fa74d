package access

import (
	"errors"
	"net/http"
)

// Chain tries authenticators in order: the first that finds credentials it
// understands decides. When none finds any, the request is anonymous if
// AllowAnonymous (policies then decide what it may do), else it fails with
// ErrNoCredentials.
type Chain struct {
	Methods        []Authenticator
	AllowAnonymous bool
}

// Authenticate implements Authenticator.
func (c Chain) Authenticate(r *http.Request) (Principal, error) {
	for _, m := range c.Methods {
		p, err := m.Authenticate(r)
		if errors.Is(err, ErrNoCredentials) {
			continue
		}
		return p, err
	}
	if c.AllowAnonymous {
		return Principal{Anonymous: true}, nil
	}
	return Principal{}, ErrNoCredentials
}

package ctlauth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/access"
	"github.com/wharfhq/wharf/internal/awsjson"
)

// onlyOwn allows a principal everything in its own account.
type onlyOwn struct{}

func (onlyOwn) Authorize(_ context.Context, p access.Principal, _ string, res access.Resource) error {
	if p.AccountID != res.AccountID {
		return access.ErrDenied
	}
	return nil
}

func TestGuardAuthorize(t *testing.T) {
	p := access.Principal{AccountID: "111111111111", UserName: "alice"}
	ctx := awsjson.WithPrincipal(context.Background(), p)
	if got := Caller(ctx); got != p {
		t.Fatalf("caller %+v", got)
	}
	other := "222222222222"
	if RegistryID(ctx, nil) != p.AccountID || RegistryID(ctx, new(string)) != p.AccountID || RegistryID(ctx, &other) != other {
		t.Fatal("registryId defaulting")
	}
	g := Guard{Authz: onlyOwn{}, Region: "eu-west-1"}
	if err := g.Authorize(ctx, p.AccountID, "app", "ecr:BatchGetImage"); err != nil {
		t.Fatalf("own account: %v", err)
	}
	err := g.Authorize(ctx, other, "app", "ecr:BatchGetImage")
	var ae *awsjson.Error
	if !errors.As(err, &ae) || ae.Code != "AccessDeniedException" ||
		!strings.Contains(ae.Message, "arn:aws:ecr:eu-west-1:222222222222:repository/app") || !strings.Contains(ae.Message, "ecr:BatchGetImage") {
		t.Fatalf("other account: %v", err)
	}
	// A failure other than a denial is passed on as it is.
	boom := errors.New("store down")
	g.Authz = failing{boom}
	if err := g.Authorize(ctx, p.AccountID, "", "ecr:DescribeRegistry"); !errors.Is(err, boom) {
		t.Fatalf("store failure: %v", err)
	}
}

type failing struct{ err error }

func (f failing) Authorize(context.Context, access.Principal, string, access.Resource) error {
	return f.err
}

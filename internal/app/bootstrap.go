package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// CredentialsFile is where the first start writes the admin credentials.
const CredentialsFile = "admin-credentials"

// Bootstrap is the outcome of first-start set-up.
type Bootstrap struct {
	AccountID   string
	AccessKeyID string
	Secret      string
	Created     bool // the key pair was created now (print it once)
}

// bootstrap makes sure the default account and its admin key exist. Values
// fixed in the configuration win; otherwise the first start generates them
// and later starts reuse what is stored.
func bootstrap(ctx context.Context, cfg config.Config, m meta.Store, now time.Time) (Bootstrap, error) {
	var b Bootstrap
	accounts, err := m.ListAccounts(ctx)
	if err != nil {
		return b, err
	}
	switch {
	case cfg.AccountID != "":
		b.AccountID = cfg.AccountID
	case len(accounts) > 0:
		b.AccountID = accounts[0].ID
	default:
		b.AccountID = randomAccountID()
	}
	if _, err := m.GetAccount(ctx, b.AccountID); errors.Is(err, meta.ErrNotFound) {
		if err := m.CreateAccount(ctx, meta.Account{ID: b.AccountID, Name: "default", CreatedAt: now}); err != nil && !errors.Is(err, meta.ErrExists) {
			return b, err
		}
	} else if err != nil {
		return b, err
	}

	if cfg.AdminAccessKeyID != "" {
		b.AccessKeyID, b.Secret = cfg.AdminAccessKeyID, cfg.AdminSecretAccessKey
		k, err := m.GetAccessKey(ctx, b.AccessKeyID)
		if err == nil && k.Secret == b.Secret && k.AccountID == b.AccountID && k.Active {
			return b, nil
		}
		if err != nil && !errors.Is(err, meta.ErrNotFound) {
			return b, err
		}
		err = m.PutAccessKey(ctx, meta.AccessKey{AccessKeyID: b.AccessKeyID, Secret: b.Secret, AccountID: b.AccountID, Active: true, CreatedAt: now})
		return b, err
	}
	// Reuse the stored admin credentials of an earlier start.
	if id, secret, err := readCredentials(filepath.Join(cfg.DataDir, CredentialsFile)); err == nil {
		if k, err := m.GetAccessKey(ctx, id); err == nil && k.Secret == secret && k.Active {
			b.AccessKeyID, b.Secret = id, secret
			return b, nil
		}
	}
	b.AccessKeyID, b.Secret = NewKeyPair()
	b.Created = true
	if err := m.PutAccessKey(ctx, meta.AccessKey{AccessKeyID: b.AccessKeyID, Secret: b.Secret, AccountID: b.AccountID, Active: true, CreatedAt: now}); err != nil {
		return b, err
	}
	return b, writeCredentials(filepath.Join(cfg.DataDir, CredentialsFile), b)
}

// NewKeyPair generates an access key id and secret in AWS's formats.
func NewKeyPair() (id, secret string) {
	return "AKIA" + randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
		randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}

// NewAccountID generates a 12-digit account id.
func NewAccountID() string { return randomAccountID() }

func randomAccountID() string {
	// 12 digits, never starting with 0 so tools that parse it as a number
	// keep all of it.
	s := randomString(11, "0123456789")
	return randomString(1, "123456789") + s
}

func randomString(n int, alphabet string) string {
	var sb strings.Builder
	max := big.NewInt(int64(len(alphabet)))
	for i := 0; i < n; i++ {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err)
		}
		sb.WriteByte(alphabet[v.Int64()])
	}
	return sb.String()
}

// The credentials file is shell-sourceable and readable by its owner only.
func writeCredentials(path string, b Bootstrap) error {
	body := fmt.Sprintf("# Wharf admin credentials, written at first start.\nWHARF_ACCOUNT_ID=%s\nWHARF_ADMIN_ACCESS_KEY_ID=%s\nWHARF_ADMIN_SECRET_ACCESS_KEY=%s\n",
		b.AccountID, b.AccessKeyID, b.Secret)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readCredentials(path string) (id, secret string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		switch k {
		case "WHARF_ADMIN_ACCESS_KEY_ID":
			id = v
		case "WHARF_ADMIN_SECRET_ACCESS_KEY":
			secret = v
		}
	}
	if id == "" || secret == "" {
		return "", "", errors.New("incomplete credentials file")
	}
	return id, secret, nil
}

// loadOrCreateKey reads a 32-byte secret key, creating it (mode 0600) on
// first use. Nodes that share a registry must share this key.
func loadOrCreateKey(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("%s: key too short", path)
		}
		return b, nil
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, key, 0o600); err != nil {
		return nil, err
	}
	return key, os.Rename(tmp, path)
}

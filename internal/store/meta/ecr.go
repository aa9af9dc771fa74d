package meta

import (
	"context"
	"time"
)

// This file holds the metadata the ECR control plane needs beyond the core:
// IAM users and their policies, repository settings and policies, resource
// tags, the registry policy, account settings and repository creation
// templates, and image listings.

// User is an IAM user of an account.
type User struct {
	AccountID string
	Name      string
	CreatedAt time.Time
}

// UserPolicy is an inline identity policy attached to a user.
type UserPolicy struct {
	AccountID string
	UserName  string
	Name      string
	Document  string
}

// CreationTemplate is an ECR repository creation template. Body is the
// template's settings as JSON, opaque to the store.
type CreationTemplate struct {
	AccountID string
	Prefix    string
	Body      []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Image is a manifest of a repository with its tags.
type Image struct {
	Manifest
	Tags []string
}

// IAMStore keeps users, access keys and identity policies.
type IAMStore interface {
	CreateUser(ctx context.Context, u User) error // ErrExists
	GetUser(ctx context.Context, accountID, name string) (User, error)
	ListUsers(ctx context.Context, accountID string) ([]User, error)
	// DeleteUser removes the user with its access keys and policies
	// (ErrNotFound).
	DeleteUser(ctx context.Context, accountID, name string) error
	// ListAccessKeys lists the keys of a user ("" for the account's root),
	// by access key id.
	ListAccessKeys(ctx context.Context, accountID, userName string) ([]AccessKey, error)
	DeleteAccessKey(ctx context.Context, id string) error // ErrNotFound
	// PutUserPolicy creates or replaces a user's inline policy; ErrNotFound
	// if the user does not exist.
	PutUserPolicy(ctx context.Context, p UserPolicy) error
	DeleteUserPolicy(ctx context.Context, accountID, userName, name string) error // ErrNotFound
	// ListUserPolicies lists a user's inline policies by name.
	ListUserPolicies(ctx context.Context, accountID, userName string) ([]UserPolicy, error)
}

// ECRStore keeps the settings and policies of the ECR control plane.
type ECRStore interface {
	// UpdateRepository writes the settings of the repository r.ID
	// (everything but ID, AccountID, Name and CreatedAt); ErrNotFound if it
	// does not exist.
	UpdateRepository(ctx context.Context, r Repository) error

	// Resource tags, by ARN. PutResourceTags adds or overwrites keys;
	// DeleteResourceTags ignores absent keys; ListResourceTags returns an
	// empty map when there are none. Tags outlive their resource (the store
	// does not know ARNs): whoever deletes a resource deletes its tags.
	PutResourceTags(ctx context.Context, arn string, tags map[string]string) error
	DeleteResourceTags(ctx context.Context, arn string, keys []string) error
	ListResourceTags(ctx context.Context, arn string) (map[string]string, error)

	// The registry policy of an account ("" when none: ErrNotFound).
	PutRegistryPolicy(ctx context.Context, accountID, doc string) error
	GetRegistryPolicy(ctx context.Context, accountID string) (string, error)
	DeleteRegistryPolicy(ctx context.Context, accountID string) error

	// Account settings by name (ErrNotFound when never set).
	PutAccountSetting(ctx context.Context, accountID, name, value string) error
	GetAccountSetting(ctx context.Context, accountID, name string) (string, error)

	// Repository creation templates, unique by (account, prefix).
	CreateCreationTemplate(ctx context.Context, t CreationTemplate) error // ErrExists
	UpdateCreationTemplate(ctx context.Context, t CreationTemplate) error // ErrNotFound
	GetCreationTemplate(ctx context.Context, accountID, prefix string) (CreationTemplate, error)
	ListCreationTemplates(ctx context.Context, accountID string) ([]CreationTemplate, error)
	DeleteCreationTemplate(ctx context.Context, accountID, prefix string) error

	// ListImages lists manifests of a repository with their tags (sorted),
	// ordered by digest, after the given digest, at most limit (content
	// omitted).
	ListImages(ctx context.Context, repoID int64, after string, limit int) ([]Image, error)
	// GetImage returns one manifest (with content) and its tags (sorted);
	// ErrNotFound.
	GetImage(ctx context.Context, repoID int64, digest string) (Image, error)
}

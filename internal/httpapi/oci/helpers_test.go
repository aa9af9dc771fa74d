package oci_test

import "github.com/wharfhq/wharf/internal/store/meta"

func repoRow(name, mutability string) meta.Repository {
	return meta.Repository{AccountID: "123456789012", Name: name, TagMutability: mutability}
}

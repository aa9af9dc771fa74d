//go:build tools

// Package tools pins the redesigned OCI distribution-spec conformance suite
// from the distribution-spec main branch. It is a plain command: build it with
// `go build github.com/opencontainers/distribution-spec/conformance`.
package tools

import _ "github.com/opencontainers/distribution-spec/conformance"

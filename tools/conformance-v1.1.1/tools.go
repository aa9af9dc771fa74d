//go:build tools

// Package tools pins the OCI distribution-spec conformance suite at the code of
// distribution-spec v1.1.1. The suite is a test package: build it with
// `go test -c github.com/opencontainers/distribution-spec/conformance`.
package tools

import _ "github.com/opencontainers/distribution-spec/conformance"

//go:build tools

// Package tools pins the oras CLI. Build it with
// `go build oras.land/oras/cmd/oras`.
package tools

import _ "oras.land/oras/cmd/oras"

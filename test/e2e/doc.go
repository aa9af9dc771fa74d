// Package e2e holds Wharf's end-to-end tests: a real `wharf serve` process
// driven by the official OCI conformance suites and by real registry clients
// (docker, crane, oras, regctl, skopeo).
//
// The tests need a built server and the pinned tools; they skip when WHARF_BIN
// is unset so that a plain `go test ./...` stays quick. `bash scripts/test.sh`
// installs the tools, builds bin/wharf and runs them. See docs/testing.md.
package e2e

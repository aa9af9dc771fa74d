#!/usr/bin/env bash
# The whole Wharf test suite: the command the README and CI run.
#
#   bash scripts/test.sh
#
# Steps: install the pinned tools (scripts/install-tools.sh), gofmt, go vet,
# unit tests with the race detector (with a throwaway PostgreSQL server from
# scripts/postgres.sh, so that the metadata store's contract suite runs on
# PostgreSQL too), build bin/wharf, then the end-to-end tests (test/e2e: the
# OCI conformance suites and real clients against the built server). Exits
# non-zero on the first failing step.
#
# Knobs (all optional, see docs/testing.md):
#   WHARF_TOOLS_DIR           where tools go (default $HOME/.cache/wharf-tools)
#   WHARF_SKIP_E2E=1          stop after building bin/wharf
#   WHARF_E2E_RUN=REGEX       run only the matching end-to-end tests (go test -run)
#   WHARF_E2E_REQUIRE_DOCKER  1 (default here): no docker daemon is a failure; 0 skips the docker test
#   WHARF_REQUIRE_TOOLS       1 (default here): unit tests fail when rpm, rpmbuild, db_load or rustc is missing
#   WHARF_E2E_ARTIFACTS_DIR   keep server logs and conformance reports there
#   WHARF_TEST_POSTGRES_URL   use this PostgreSQL server instead of starting one
#   WHARF_PG_DIR, WHARF_PG_PORT  where and on which port the throwaway server runs
#   WHARF_TEST_S3_ENDPOINT    use this S3 server instead of starting versitygw (scripts/s3.sh)
#   WHARF_S3_PORT             port of the throwaway versitygw
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo_root=$(pwd)
export WHARF_TOOLS_DIR=${WHARF_TOOLS_DIR:-$HOME/.cache/wharf-tools}

suite_start=$(date +%s)
step_start=$suite_start
step() {
	local now
	now=$(date +%s)
	printf '\n==> %s  (previous step %ds, total %ds)\n' "$*" $((now - step_start)) $((now - suite_start))
	step_start=$now
}

# Clean-up commands run at exit (servers this run started).
on_exit=()
trap 'for c in "${on_exit[@]}"; do eval "$c" || true; done' EXIT

step "install tools"
bash scripts/install-tools.sh

step "gofmt"
gofiles=()
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	while IFS= read -r f; do
		[[ -f $f ]] && gofiles+=("$f")
	done < <(git ls-files --cached --others --exclude-standard -- '*.go')
else
	mapfile -t gofiles < <(find . -name '*.go' -not -path './.git/*')
fi
if ((${#gofiles[@]} > 0)); then
	unformatted=$(gofmt -l "${gofiles[@]}")
	if [[ -n $unformatted ]]; then
		echo "gofmt: these files need formatting (run gofmt -w):"
		echo "$unformatted"
		exit 1
	fi
fi

step "go vet"
go vet ./...

step "PostgreSQL for the unit tests (scripts/postgres.sh)"
# The server is stopped when the script exits, unless it was running before.
if [[ -z ${WHARF_TEST_POSTGRES_URL:-} ]]; then
	if ! bash scripts/postgres.sh status; then
		on_exit+=('bash scripts/postgres.sh stop')
	fi
	WHARF_TEST_POSTGRES_URL=$(bash scripts/postgres.sh start)
fi
export WHARF_TEST_POSTGRES_URL
echo "WHARF_TEST_POSTGRES_URL=$WHARF_TEST_POSTGRES_URL"

step "S3 server for the unit tests (scripts/s3.sh)"
# versitygw for the S3 blob store's suite; stopped at exit unless it was running before.
if [[ -z ${WHARF_TEST_S3_ENDPOINT:-} ]]; then
	if ! bash scripts/s3.sh status >/dev/null 2>&1; then
		on_exit+=('bash scripts/s3.sh stop')
	fi
	bash scripts/s3.sh start
	eval "$(bash scripts/s3.sh env)"
fi
export WHARF_TEST_S3_ENDPOINT WHARF_TEST_S3_ACCESS_KEY WHARF_TEST_S3_SECRET_KEY
echo "WHARF_TEST_S3_ENDPOINT=$WHARF_TEST_S3_ENDPOINT"

step "unit tests (go test -race)"
# rustc (the cargo-auditable test) comes with this kind of machine's Rust
# toolchain; tests that need a tool then fail instead of skipping.
if [[ -d $HOME/.cargo/bin ]]; then export PATH=$PATH:$HOME/.cargo/bin; fi
export WHARF_REQUIRE_TOOLS=${WHARF_REQUIRE_TOOLS:-1}
mapfile -t unit_pkgs < <(go list ./... | grep -v '/test/')
go test -race -count=1 -timeout 10m "${unit_pkgs[@]}"

step "build bin/wharf"
go build -o bin/wharf ./cmd/wharf

if [[ ${WHARF_SKIP_E2E:-0} == 1 ]]; then
	step "end-to-end tests skipped (WHARF_SKIP_E2E=1)"
	exit 0
fi

step "end-to-end tests (test/e2e, test/crash)"
e2e_args=(-count=1 -v -timeout 30m)
if [[ -n ${WHARF_E2E_RUN:-} ]]; then
	e2e_args+=(-run "$WHARF_E2E_RUN")
fi
WHARF_BIN=$repo_root/bin/wharf \
	WHARF_E2E_REQUIRE_DOCKER=${WHARF_E2E_REQUIRE_DOCKER:-1} \
	go test "${e2e_args[@]}" ./test/...

step "all tests passed"

#!/usr/bin/env bash
# Installs the tools Wharf's test suite drives (the OCI conformance suites,
# crane, regctl, oras, skopeo, the versitygw S3 server) into
# ${WHARF_TOOLS_DIR:-$HOME/.cache/wharf-tools}.
#
# Idempotent: a tool is (re)built only when it is missing or its pin changed.
# Go tools carry a stamp file (<tool>.stamp) holding the key they were built
# from: module@version for `go install`ed ones, a hash of the pinning go.mod and
# go.sum (tools/<name>/) for the others. apt runs only when a command is
# missing. Prints what it did.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools_dir=${WHARF_TOOLS_DIR:-$HOME/.cache/wharf-tools}
mkdir -p "$tools_dir"
tools_dir=$(cd "$tools_dir" && pwd)

# Pins of the tools installed with `go install` (the others are pinned by the
# go.mod files under tools/).
CRANE_PKG=github.com/google/go-containerregistry/cmd/crane
CRANE_VERSION=v0.22.1
REGCTL_PKG=github.com/regclient/regclient/cmd/regctl
REGCTL_VERSION=v0.11.7
# The S3 server of the S3 blob store's tests (scripts/s3.sh runs it).
VERSITYGW_PKG=github.com/versity/versitygw/cmd/versitygw
VERSITYGW_VERSION=v1.8.0

# Tools are built outside any workspace, with the module proxy only.
export GOWORK=off GOFLAGS=-buildvcs=false

log() { printf 'install-tools: %s\n' "$*"; }

now() { date +%s; }

stamp_ok() { # name key
	[[ -x "$tools_dir/$1" && -f "$tools_dir/$1.stamp" && "$(cat "$tools_dir/$1.stamp")" == "$2" ]]
}

write_stamp() { # name key
	printf '%s\n' "$2" >"$tools_dir/$1.stamp.tmp"
	mv -f "$tools_dir/$1.stamp.tmp" "$tools_dir/$1.stamp"
}

# go_install name pkg version [flag...]: `go install [flag...] pkg@version`
# into the tools dir.
go_install() {
	local name=$1 pkg=$2 version=$3 key="$2@$3" mod
	shift 3
	if stamp_ok "$name" "$key"; then
		log "$name $version: present"
		return
	fi
	# A binary without a stamp (installed by hand) is adopted if its build
	# information names the pinned module version.
	if [[ -x "$tools_dir/$name" && ! -f "$tools_dir/$name.stamp" ]]; then
		mod=$(go version -m "$tools_dir/$name" 2>/dev/null | awk '$1 == "path" { p = $2 } $1 == "mod" { print p " " $3 }')
		if [[ "$mod" == "$pkg $version" ]]; then
			write_stamp "$name" "$key"
			log "$name $version: present (adopted)"
			return
		fi
	fi
	local t0 tmp
	t0=$(now)
	log "$name $version: installing ($pkg)"
	tmp=$(mktemp -d "$tools_dir/.gobin.XXXXXX")
	if ! GOBIN="$tmp" go install -trimpath "$@" "$pkg@$version"; then
		rm -rf "$tmp"
		return 1
	fi
	mv -f "$tmp/$name" "$tools_dir/$name"
	rm -rf "$tmp"
	write_stamp "$name" "$key"
	log "$name $version: installed in $(($(now) - t0))s"
}

# tools_module_build name dir mode pkg: builds pkg from the pinned module in
# tools/<dir>; mode is "build" (a command) or "test" (a test binary, go test -c).
tools_module_build() {
	local name=$1 dir=$repo_root/tools/$2 mode=$3 pkg=$4 key t0 tmp
	key=$(cat "$dir/go.mod" "$dir/go.sum" | sha256sum | cut -d' ' -f1)
	if stamp_ok "$name" "$key"; then
		log "$name: present"
		return
	fi
	t0=$(now)
	log "$name: building $pkg from tools/$2"
	tmp="$tools_dir/.$name.tmp.$$"
	if [[ $mode == test ]]; then
		(cd "$dir" && go test -c -trimpath -o "$tmp" "$pkg")
	else
		(cd "$dir" && go build -trimpath -o "$tmp" "$pkg")
	fi
	mv -f "$tmp" "$tools_dir/$name"
	write_stamp "$name" "$key"
	log "$name: built in $(($(now) - t0))s"
}

apt_updated=
# apt_install cmd package...: installs the packages when cmd is missing.
apt_install() {
	local cmd=$1
	shift
	if command -v "$cmd" >/dev/null 2>&1; then
		log "$cmd: present ($(command -v "$cmd"))"
		return
	fi
	local sudo=
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null 2>&1 || {
			log "$cmd is missing and installing it needs root: apt-get install $*"
			return 1
		}
		sudo=sudo
	fi
	local t0
	t0=$(now)
	if [[ -z $apt_updated ]]; then
		log "apt-get update"
		$sudo apt-get -o DPkg::Lock::Timeout=300 update -qq
		apt_updated=1
	fi
	log "$cmd: apt-get install $*"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		-o DPkg::Lock::Timeout=300 "$@"
	log "$cmd: installed in $(($(now) - t0))s"
}

start=$(now)
log "tools directory: $tools_dir"
command -v go >/dev/null 2>&1 || {
	log "go is not on PATH"
	exit 1
}

# The race detector needs a C toolchain; skopeo is the containers/image client.
apt_install gcc gcc libc6-dev
apt_install skopeo skopeo
apt_install podman podman
# The image inventory's tests build an rpm database with rpmbuild and rpm,
# and a Berkeley DB one (rpm's format before 4.16) with db_load.
apt_install rpmbuild rpm
apt_install db_load db-util
# LLVM's assembler and lipo make the Mach-O and WebAssembly binaries whose
# cargo-auditable sections the Rust cataloguer reads.
apt_install llvm-mc llvm
apt_install llvm-config llvm

go_install crane "$CRANE_PKG" "$CRANE_VERSION"
go_install regctl "$REGCTL_PKG" "$REGCTL_VERSION"
go_install versitygw "$VERSITYGW_PKG" "$VERSITYGW_VERSION" -ldflags='-s -w'
tools_module_build oras oras build oras.land/oras/cmd/oras
tools_module_build conformance-v1.1.1.test conformance-v1.1.1 test github.com/opencontainers/distribution-spec/conformance
tools_module_build conformance-next conformance-next build github.com/opencontainers/distribution-spec/conformance

if ! command -v docker >/dev/null 2>&1; then
	log "note: no docker CLI; TestDockerPushPull needs a docker engine (not installed by this script)"
fi
log "done in $(($(now) - start))s"

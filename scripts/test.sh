#!/usr/bin/env bash
# Runs every check and test of every module in this repository: gofmt, go vet,
# staticcheck, the tests with the race detector (goleak checks for leaked
# goroutines in each package's TestMain; fuzz targets run their committed
# seeds), the allocation tests without it, and one iteration of every
# benchmark so that none rots.
#
# Some tests need programs from Debian packages (a Redis server, a Secret
# Service); each scripts/deps/*.sh names them with `need`. Running as root
# (as CI does), this script installs what is missing; otherwise it says what
# is missing, and those tests skip, or fail when CI is set.
set -euo pipefail
cd "$(dirname "$0")/.."

staticcheck_version=v0.8.2

# need COMMAND PACKAGE: the tests need COMMAND, from Debian's PACKAGE.
missing=()
need() {
	command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}
for f in scripts/deps/*.sh; do
	[ -e "$f" ] || continue
	# shellcheck source=/dev/null
	. "$f"
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "== installing ${missing[*]}"
		# Installing a server package starts its system service; the tests
		# start servers of their own on free ports instead.
		policy=/usr/sbin/policy-rc.d
		had_policy=0
		[ -e "$policy" ] && had_policy=1
		[ $had_policy = 1 ] || { printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; }
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
		[ $had_policy = 1 ] || rm -f "$policy"
	else
		echo "== missing packages (tests that need them skip, or fail with CI set): ${missing[*]}" >&2
	fi
fi

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" $unformatted >&2
	exit 1
fi

# check_module runs every check of the module in directory $1. Each step
# is checked explicitly: errexit does not apply inside a function whose
# status is tested.
check_module() {
	cd "$1" || return 1
	go mod verify >/dev/null || return 1
	go vet ./... || return 1
	# The keychain and file stores have per-platform code: it must build.
	GOOS=windows go vet ./... || return 1
	GOOS=darwin go vet ./... || return 1
	go run "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version" ./... || return 1
	go test -race -count=1 -timeout 10m ./... || return 1
	# Allocation counts are checked without the race detector, which
	# changes them.
	go test -count=1 -run 'Allocs' ./... >/dev/null || return 1
	go test -run '^$' -bench . -benchtime 1x ./... >/dev/null || return 1
}

status=0
for mod in $(find . -name go.mod -not -path './.git/*' -exec dirname {} \; | sort); do
	echo "== module $mod"
	if ! (check_module "$mod"); then
		echo "== module $mod FAILED" >&2
		status=1
	fi
done
exit $status

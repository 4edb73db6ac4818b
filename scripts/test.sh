#!/usr/bin/env bash
# Runs every check and test of every module in this repository: gofmt, go vet,
# staticcheck, the tests with the race detector (goleak checks for leaked
# goroutines in each package's TestMain; fuzz targets run their committed
# seeds), and one iteration of every benchmark so that none rots.
# Needs only Go; everything else comes through the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."

staticcheck_version=v0.8.2

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" $unformatted >&2
	exit 1
fi

status=0
for mod in $(find . -name go.mod -not -path './.git/*' -exec dirname {} \; | sort); do
	echo "== module $mod"
	(
		cd "$mod"
		go mod verify >/dev/null
		go vet ./...
		go run "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version" ./...
		go test -race -count=1 -timeout 10m ./...
		go test -run '^$' -bench . -benchtime 1x ./... >/dev/null
	) || status=1
done
exit $status

#!/usr/bin/env bash
# Mutation testing of the root package's core files (see scripts/mutate/README.md):
#   scripts/mutate.sh [-workers 2] [-only 12,40-42] ...   FILES="a.go,b.go" scripts/mutate.sh
cd "$(dirname "$0")/.." && exec go run -C scripts/mutate . -dir "$PWD" -short \
	-files "${FILES:-transport.go,verdict.go,origin.go,refresh.go,decide.go,backoff.go,storecalls.go,token.go,send.go,refresher.go,login.go}" "$@"

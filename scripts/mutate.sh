#!/usr/bin/env bash
cd "$(dirname "$0")/.." && exec go run -C scripts/mutate . -dir "$PWD" -files "${FILES:-origin.go,retry.go,flight.go,refresher.go,token.go,transport.go}" "$@"

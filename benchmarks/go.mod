module github.com/d5c4ca72/authtransport/benchmarks

go 1.25.0

require (
	github.com/d5c4ca72/authtransport v0.0.0-00010101000000-000000000000
	github.com/docker/distribution v2.8.3+incompatible
	go.uber.org/goleak v1.3.0
)

replace github.com/d5c4ca72/authtransport => ../

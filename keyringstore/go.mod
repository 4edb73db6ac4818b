module github.com/d5c4ca72/authtransport/keyringstore

go 1.25.0

replace github.com/d5c4ca72/authtransport => ../

require (
	github.com/d5c4ca72/authtransport v0.0.0-00010101000000-000000000000
	github.com/godbus/dbus/v5 v5.2.2
	github.com/gofrs/flock v0.13.1
	github.com/stretchr/testify v1.12.1
	github.com/zalando/go-keyring v0.2.8
	go.uber.org/goleak v1.3.0
	golang.org/x/oauth2 v0.36.0
)

require (
	github.com/danieljoos/wincred v1.2.3 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.47.0 // indirect
)

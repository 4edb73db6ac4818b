// Package integration holds the tests that run authtransport.Transport
// against a real OAuth 2.0 authorization server library, github.com/ory/fosite,
// configured strictly: refresh tokens rotate on every use, presenting a
// rotated refresh token again revokes the whole grant, and PKCE is enforced.
//
// The package has no API; everything lives in its tests. It is a module of its
// own so that fosite and its dependencies never reach users of authtransport.
package integration

package authtransport_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

func TestErrorsCarryNoSecrets(t *testing.T) {
	srv := authtest.NewServer()
	defer srv.Close()
	tok := srv.NewExpiredToken()
	srv.RevokeGrant()
	c, _, _ := newClient(srv, tok)
	_, err := getURL(t, c, srv.ResourceURL("items"))
	require.Error(t, err)
	for _, secret := range []string{tok.AccessToken, tok.RefreshToken, srv.ClientSecret} {
		assert.NotContains(t, err.Error(), secret)
	}
	assert.True(t, errors.Is(err, authtransport.ErrLoginRequired))
}

package keyringstore

import (
	"strconv"
	"strings"
	"time"

	"github.com/d5c4ca72/authtransport"
)

// platformLimits are the entry size limits of every platform, so that the
// splitting for each is tested on any platform.
var platformLimits = []struct {
	name  string
	limit limitFunc
}{
	{name: "secret service", limit: secretServiceEntryLimit},
	{name: "macOS keychain", limit: macKeychainEntryLimit},
	{name: "windows credential manager", limit: winCredEntryLimit},
}

// sizedToken returns a token of generation gen whose JSON has about size
// bytes: every secret names gen, so a token made of parts of two
// generations shows.
func sizedToken(gen, size int) *authtransport.Token {
	tag := "g" + strconv.Itoa(gen) + "-"
	fill := size - 150
	if fill < len(tag) {
		fill = len(tag)
	}
	return &authtransport.Token{
		AccessToken:  tag + strings.Repeat(strconv.Itoa(gen%10), fill-len(tag)),
		TokenType:    "Bearer",
		RefreshToken: tag + "refresh",
		Expiry:       time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		Scope:        tag + "scope",
	}
}

package keyringstore

import (
	"encoding/base64"
	"strings"
)

// macOS keychain limits. go-keyring writes an entry by sending the line
//
//	add-generic-password -U -s SERVICE -a USER -w go-keyring-base64:VALUE
//
// to the security tool, with the service and user shell-quoted and the
// value in standard base64, and refuses a line (newline included) longer
// than macKeychainLine bytes.
const (
	macKeychainLine   = 4096
	macKeychainFixed  = len("add-generic-password -U -s ") + len(" -a ") + len(" -w ") + len("go-keyring-base64:") + len("\n")
	macKeychainMargin = 16 // room for a change of go-keyring's command
)

// macKeychainEntryLimit returns the largest value of the entry of user
// under service that go-keyring writes to the macOS keychain: about 3 KB,
// less the names' length.
func macKeychainEntryLimit(service, user string) int {
	room := macKeychainLine - macKeychainFixed - macKeychainMargin - shellQuotedLen(service) - shellQuotedLen(user)
	if room < 4 {
		return 0
	}
	return base64.StdEncoding.DecodedLen(room / 4 * 4)
}

// shellQuotedLen is the length of s quoted for a POSIX shell in single
// quotes, each single quote written as '"'"' (at worst: a name that needs
// no quotes is shorter).
func shellQuotedLen(s string) int {
	return len(s) + 2 + 4*strings.Count(s, "'")
}

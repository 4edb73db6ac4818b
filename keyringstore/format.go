package keyringstore

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/d5c4ca72/authtransport"
)

const (
	// formatVersion is the version of the head entry's format that this
	// package reads and writes.
	formatVersion = 1
	// maxTokenSize bounds the encoded token, and so how many parts a
	// reader fetches for one head.
	maxTokenSize = 1 << 20
	// generationLen is the length of a generation name: 8 random bytes in
	// hex.
	generationLen = 16
)

// limitFunc returns the largest value, in bytes, that the keychain keeps in
// the entry of user under service.
type limitFunc func(service, user string) int

// head is the JSON of the head entry, the one named by the account. It
// holds the token itself when the token fits ({"version":1,"token":{...}},
// the layout of a filestore file), and otherwise names the generation of
// the parts that hold it, how many there are, and the size and SHA-256 of
// their concatenation.
type head struct {
	Version    *int            `json:"version"`
	Token      json.RawMessage `json:"token,omitempty"`
	Generation string          `json:"generation,omitempty"`
	Parts      int             `json:"parts,omitempty"`
	Size       int             `json:"size,omitempty"`
	SHA256     string          `json:"sha256,omitempty"`
}

// entry is one keychain entry to write.
type entry struct {
	user, label, value string
}

// layout is how a token is written: the parts first, then the head that
// names them.
type layout struct {
	parts []entry
	head  entry
}

// encodeToken returns the JSON of tok. The message of a json error does
// not include the secrets.
func encodeToken(tok *authtransport.Token) ([]byte, error) {
	payload, err := json.Marshal(tok)
	if err != nil {
		return nil, fmt.Errorf("encode token: %w", err)
	}
	if len(payload) > maxTokenSize {
		return nil, fmt.Errorf("the encoded token has %d bytes, more than the %d this store keeps", len(payload), maxTokenSize)
	}
	return payload, nil
}

// split lays payload, a token's JSON, out over entries of at most
// limit bytes each: in the head alone when it fits, otherwise in parts of
// generation gen. Parts end on UTF-8 character boundaries.
func split(service, account string, payload []byte, gen string, limit limitFunc) (layout, error) {
	version := formatVersion
	inline, err := json.Marshal(head{Version: &version, Token: payload})
	if err != nil {
		return layout{}, fmt.Errorf("encode token: %w", err)
	}
	headEntry := entry{user: account, label: headLabel(service, account)}
	if len(inline) <= limit(service, account) {
		headEntry.value = string(inline)
		return layout{head: headEntry}, nil
	}
	var values []string
	for rest := payload; len(rest) > 0; {
		n := min(len(rest), limit(service, partUser(account, gen, len(values))))
		for n > 0 && n < len(rest) && !utf8.RuneStart(rest[n]) {
			n--
		}
		if n <= 0 {
			return layout{}, errors.New("the service and account names leave no room for the token in a keychain entry")
		}
		values = append(values, string(rest[:n]))
		rest = rest[n:]
	}
	sum := sha256.Sum256(payload)
	h, err := json.Marshal(head{Version: &version, Generation: gen, Parts: len(values), Size: len(payload), SHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		return layout{}, fmt.Errorf("encode head: %w", err)
	}
	if len(h) > limit(service, account) {
		return layout{}, errors.New("the service and account names leave no room for the head entry in the keychain")
	}
	headEntry.value = string(h)
	parts := make([]entry, len(values))
	for i, v := range values {
		parts[i] = entry{user: partUser(account, gen, i), label: partLabel(service, account, i, len(values)), value: v}
	}
	return layout{parts: parts, head: headEntry}, nil
}

// newGeneration returns a random generation name, so that the parts of
// two tokens never share an entry, even when two writers race.
func newGeneration() string {
	b := make([]byte, generationLen/2)
	_, _ = rand.Read(b) // never fails, see crypto/rand.Read
	return hex.EncodeToString(b)
}

// partUser names the entry of part i (from 0) of generation gen.
func partUser(account, gen string, i int) string {
	return account + "#" + gen + "." + strconv.Itoa(i+1)
}

func headLabel(service, account string) string {
	return service + " token for " + account
}

func partLabel(service, account string, i, n int) string {
	return fmt.Sprintf("%s token for %s, part %d of %d", service, account, i+1, n)
}

// parseHead decodes a head entry. The reason it returns when the entry is
// not one says why without quoting it.
func parseHead(value string) (h head, reason string) {
	if len(value) > maxTokenSize+1024 {
		return head{}, fmt.Sprintf("entry has %d bytes, more than a token", len(value))
	}
	if err := json.Unmarshal([]byte(value), &h); err != nil {
		return head{}, describeJSONError(err)
	}
	switch {
	case h.Version == nil:
		return head{}, "no version field"
	case *h.Version != formatVersion:
		return head{}, fmt.Sprintf("format version %d, this program reads version %d", *h.Version, formatVersion)
	case h.inline():
		return h, ""
	case h.Parts == 0:
		return head{}, "no token"
	case !validGeneration(h.Generation):
		return head{}, "invalid generation name"
	case h.Parts < 0 || h.Size < h.Parts || h.Size > maxTokenSize:
		return head{}, fmt.Sprintf("invalid layout: %d parts of %d bytes in all", h.Parts, h.Size)
	case len(h.SHA256) != sha256.Size*2:
		return head{}, "invalid checksum"
	}
	return h, ""
}

// inline reports whether the head holds the token itself.
func (h head) inline() bool {
	return len(h.Token) > 0 && string(h.Token) != "null"
}

func validGeneration(g string) bool {
	if len(g) != generationLen {
		return false
	}
	_, err := hex.DecodeString(g)
	return err == nil
}

// join concatenates the parts named by h and checks them against it.
func join(h head, parts []string) (payload []byte, reason string) {
	payload = make([]byte, 0, h.Size)
	for _, p := range parts {
		payload = append(payload, p...)
	}
	if len(payload) != h.Size {
		return nil, fmt.Sprintf("the parts have %d bytes, the head says %d", len(payload), h.Size)
	}
	sum := sha256.Sum256(payload)
	if hex.EncodeToString(sum[:]) != h.SHA256 {
		return nil, "the parts do not match their checksum"
	}
	return payload, ""
}

// decodeToken decodes a token's JSON.
func decodeToken(payload []byte) (*authtransport.Token, string) {
	var tok *authtransport.Token
	if err := json.Unmarshal(payload, &tok); err != nil {
		return nil, describeJSONError(err)
	}
	if tok == nil {
		return nil, "no token"
	}
	return tok, ""
}

// describeJSONError says what is wrong with a JSON document without quoting
// it: the messages of some encoding/json and time errors include part of
// the input.
func describeJSONError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("field %q is not a JSON %s", typ.Field, typ.Type.Kind())
	case errors.As(err, &typ):
		return fmt.Sprintf("JSON %s where an object was expected", typ.Value)
	}
	return "invalid field value"
}

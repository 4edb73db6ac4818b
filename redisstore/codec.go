package redisstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/d5c4ca72/authtransport"
)

// The fields of the hash that holds a token.
const (
	fieldToken   = "token"   // the token as JSON, with the field names of authtransport.Token
	fieldVersion = "version" // a positive integer, greater after every save
)

// encodeToken returns the JSON stored for tok.
func encodeToken(tok *authtransport.Token) ([]byte, error) {
	data, err := json.Marshal(tok)
	if err != nil {
		// Only a Token with a time that cannot be encoded gets here; the
		// message of a json error does not include the secrets.
		return nil, fmt.Errorf("redisstore: encode token: %w", err)
	}
	return data, nil
}

// decodeFields reads the values of HMGET token version. It returns a nil
// token when the key does not exist, and a reason when its value cannot be
// used. The reason never quotes the value, which holds secrets.
func decodeFields(vals []any) (tok *authtransport.Token, version int64, reason string) {
	if len(vals) != 2 {
		return nil, 0, fmt.Sprintf("%d fields read, 2 expected", len(vals))
	}
	rawTok, hasTok := vals[0].(string)
	rawVer, hasVer := vals[1].(string)
	switch {
	case !hasTok && !hasVer:
		return nil, 0, ""
	case !hasTok:
		return nil, 0, "no token field"
	case !hasVer:
		return nil, 0, "no version field"
	}
	version, err := strconv.ParseInt(rawVer, 10, 64)
	if err != nil || version < 1 {
		return nil, 0, "version field is not a positive integer"
	}
	if rawTok == "null" {
		return nil, 0, "token field is null"
	}
	tok = new(authtransport.Token)
	if err := json.Unmarshal([]byte(rawTok), tok); err != nil {
		return nil, 0, "token field: " + describeJSONError(err)
	}
	return tok, version, ""
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
		return fmt.Sprintf("field %q is a JSON %s", typ.Field, typ.Value)
	case errors.As(err, &typ):
		return "a JSON " + typ.Value + " where an object was expected"
	}
	return "invalid field value"
}

package authtransport

import (
	"strconv"
	"strings"
	"time"
)

// PLACEHOLDER: replaced by the full RFC 9110 parser (issue 3).

// Param is one auth-param of a challenge, its value unquoted.
type Param struct {
	Name  string
	Value string
}

// Challenge is one challenge of a WWW-Authenticate or Proxy-Authenticate field.
type Challenge struct {
	Scheme  string
	Token68 string
	Params  []Param
}

// Param returns the value of the named parameter, compared case-insensitively.
func (c Challenge) Param(name string) (string, bool) {
	for _, p := range c.Params {
		if strings.EqualFold(p.Name, name) {
			return p.Value, true
		}
	}
	return "", false
}

// ParseChallenges parses WWW-Authenticate field values.
func ParseChallenges(fieldValues ...string) ([]Challenge, error) {
	var out []Challenge
	for _, v := range fieldValues {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		c := Challenge{Scheme: scheme}
		for _, kv := range strings.Split(rest, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if ok {
				c.Params = append(c.Params, Param{k, strings.Trim(val, `"`)})
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// PLACEHOLDER vocabulary, replaced by the parser task (issue 3).

const (
	SchemeBearer                       = "Bearer"
	SchemeDPoP                         = "DPoP"
	CodeInsufficientScope              = "insufficient_scope"
	CodeInsufficientUserAuthentication = "insufficient_user_authentication"
)

func (c Challenge) IsScheme(s string) bool { return strings.EqualFold(c.Scheme, s) }
func (c Challenge) ErrorCode() string      { v, _ := c.Param("error"); return v }
func (c Challenge) ResourceMetadata() string {
	v, _ := c.Param("resource_metadata")
	return v
}
func (c Challenge) Scopes() []string    { v, _ := c.Param("scope"); return strings.Fields(v) }
func (c Challenge) ACRValues() []string { v, _ := c.Param("acr_values"); return strings.Fields(v) }
func (c Challenge) MaxAge() (time.Duration, bool) {
	v, ok := c.Param("max_age")
	n, err := strconv.Atoi(v)
	return time.Duration(n) * time.Second, ok && err == nil
}

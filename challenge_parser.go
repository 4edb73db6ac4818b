package authtransport

import "strings"

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

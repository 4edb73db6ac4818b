package authtransport

import (
	"errors"
	"net/http"
	"strings"

	"github.com/d5c4ca72/authtransport/wwwauth"
)

// action is what the Transport does with a 401 or 403.
type action int

const (
	// actionReturn hands the response to the caller: it is not about
	// the token (a 403 without a token error, say).
	actionReturn action = iota
	// actionRefresh refreshes the token (unless another caller already
	// did) and resends the request once.
	actionRefresh
	// actionLogin gives up with a *LoginRequiredError: the user must
	// grant more scope or authenticate again.
	actionLogin
	// actionNonce resends the request once with the DPoP nonce the server
	// just sent (RFC 9449 §9), without refreshing the token.
	actionNonce
	// actionSwitch resends the request once with another credential the
	// server asked for: Basic instead of a token, a token instead of
	// Basic, or Basic in UTF-8.
	actionSwitch
	// actionRejectStatic gives up with a *CredentialsRejectedError: static
	// credentials were refused and there is nothing to refresh.
	actionRejectStatic
)

// verdict is the decision on a 401 or 403 response and what it rests on.
type verdict struct {
	action      action
	reason      Reason // for actionLogin
	status      int
	challenges  []wwwauth.Challenge
	decisive    wwwauth.Challenge // the challenge that decided, if any
	badProof    bool              // a challenge said invalid_dpop_proof
	offersBasic bool              // a Basic challenge is among them
	basicUTF8   bool              // ... with charset="UTF-8"
	// offersToken reports a Bearer or DPoP challenge, well-formed or not:
	// a malformed one still asks for a token.
	offersToken bool
}

// readVerdict decides what to do with a 401 or 403 response from its status
// and its WWW-Authenticate challenges (RFC 9110 §11.6.1):
//   - error="insufficient_scope" (RFC 6750 §3.1): ask for more scope;
//   - error="insufficient_user_authentication" (RFC 9470): step up;
//   - a 401 with a DPoP challenge error="use_dpop_nonce" (RFC 9449 §9) and
//     a DPoP-Nonce header: resend with that nonce;
//   - any other 401 with a Bearer or DPoP challenge, or with none: the
//     token was rejected, refresh and resend; with error="invalid_dpop_proof"
//     (RFC 9449 §7.1) badProof is set (see decide);
//   - a 401 whose challenges are all of other schemes: the caller gets it;
//   - any other 403: the server understood the token and refuses the
//     request; the caller gets the response.
//
// Malformed challenges are skipped, but their schemes count: a malformed
// Bearer challenge still asks for a token, and a malformed proxy Basic one
// still says the 401 is not about the token.
func readVerdict(resp *http.Response) verdict {
	chs, err := wwwauth.Parse(resp.Header.Values("WWW-Authenticate")...)
	v := verdict{status: resp.StatusCode, challenges: chs}
	otherSchemes := false
	var pe *wwwauth.ParseError
	if errors.As(err, &pe) {
		for _, p := range pe.Problems {
			switch {
			case strings.EqualFold(p.Scheme, wwwauth.SchemeBearer) || strings.EqualFold(p.Scheme, wwwauth.SchemeDPoP):
				v.offersToken = true
			case p.Scheme != "":
				otherSchemes = true
			}
		}
	}
	useNonce := false
	for _, c := range chs {
		if c.IsScheme(wwwauth.SchemeBasic) && !v.offersBasic {
			v.offersBasic, v.basicUTF8 = true, strings.EqualFold(c.Charset(), "UTF-8")
		}
		if !c.IsScheme(wwwauth.SchemeBearer) && !c.IsScheme(wwwauth.SchemeDPoP) {
			continue
		}
		switch c.ErrorCode() {
		case wwwauth.CodeInsufficientScope:
			v.action, v.reason, v.decisive = actionLogin, ReasonInsufficientScope, c
			return v
		case wwwauth.CodeInsufficientUserAuthentication:
			v.action, v.reason, v.decisive = actionLogin, ReasonStepUp, c
			return v
		case wwwauth.CodeUseDPoPNonce:
			useNonce = useNonce || c.IsScheme(wwwauth.SchemeDPoP)
		case wwwauth.CodeInvalidDPoPProof:
			v.badProof = true
		}
		if v.decisive.Scheme == "" {
			v.decisive = c
		}
	}
	// A 401 whose challenges are all for other schemes (a proxy's Basic
	// or Negotiate, say) is not about the token.
	v.offersToken = v.offersToken || v.decisive.Scheme != ""
	if resp.StatusCode == http.StatusUnauthorized && (v.offersToken || (len(chs) == 0 && !otherSchemes)) {
		v.action = actionRefresh
		if useNonce && validNonce(resp.Header.Get(wwwauth.HeaderDPoPNonce)) {
			v.action = actionNonce
		}
	}
	return v
}

// answer returns what to do with the verdict for a request that carried a,
// and the credential to carry next when that is to switch: a request with
// a token answered by a 401 that asks only for Basic switches to Basic when
// the Transport holds it (a Bearer or DPoP challenge is never answered with
// Basic); a request with Basic switches to a token when the server asks
// for one and the Transport has tokens, or from UTF-8 to ISO-8859-1 when a
// Basic challenge without charset="UTF-8" turned down credentials that
// differ in the two, and otherwise its 401 is a refusal of the credentials;
// so is a 401 to a request that carried only an API key, or one that asks
// for no token to a request that carried one beside an API key. A 403 to a
// request without a token is returned as it is.
func (v verdict) answer(a attempt, su *setup) (attempt, action) {
	c := su.creds
	offersToken := v.offersToken
	unauthorized := v.status == http.StatusUnauthorized
	switch {
	case a.g != nil && v.action == actionReturn && unauthorized && !offersToken && v.offersBasic && c != nil && c.basicUTF8 != "":
		return attempt{basic: c.basicFor(false)}, actionSwitch
	case a.g != nil && v.action == actionReturn && unauthorized && !offersToken && len(v.challenges) > 0 && c != nil && c.key != "":
		return a, actionRejectStatic
	case a.g != nil:
		return a, v.action
	case !unauthorized:
		return a, actionReturn
	case a.basic != "" && offersToken && su.tokens:
		return attempt{}, actionSwitch
	case a.basic == c.basicUTF8 && v.offersBasic && !v.basicUTF8 && c.latin1Differs():
		return attempt{basic: c.basicLatin1}, actionSwitch
	case a.basic != "" || (c != nil && c.key != ""):
		return a, actionRejectStatic
	}
	return a, actionReturn
}

// credentialsError builds the *CredentialsRejectedError for a refusal of
// a's static credentials, with the secrets s scrubbed from the challenges.
func (v verdict) credentialsError(a attempt, s secrets) *CredentialsRejectedError {
	cred := "APIKey"
	if a.basic != "" {
		cred = wwwauth.SchemeBasic
	}
	return &CredentialsRejectedError{Credential: cred, StatusCode: v.status, Challenges: scrubChallenges(v.challenges, s)}
}

// loginError builds the *LoginRequiredError for reason from what the
// server said, with the secrets s scrubbed from the challenges (a server
// may echo the token it was sent).
func (v verdict) loginError(reason Reason, s secrets) *LoginRequiredError {
	return &LoginRequiredError{
		Reason:     reason,
		StatusCode: v.status,
		Challenge:  scrubChallenge(v.decisive, s),
		Challenges: scrubChallenges(v.challenges, s),
	}
}

// summary describes the deciding challenge for an event: its scheme and
// error code, with the secrets s scrubbed.
func (v verdict) summary(s secrets) string {
	if v.decisive.Scheme == "" {
		if len(v.challenges) == 0 {
			return "no challenge"
		}
		return s.scrub(v.challenges[0].Scheme)
	}
	if code := v.decisive.ErrorCode(); code != "" {
		return s.scrub(v.decisive.Scheme + " " + code)
	}
	return s.scrub(v.decisive.Scheme)
}

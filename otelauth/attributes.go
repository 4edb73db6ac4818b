package otelauth

import (
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/wwwauth"
)

// Attribute keys.
const (
	keyOutcome       = attribute.Key("authtransport.refresh.outcome")
	keyErrorType     = attribute.Key("error.type")
	keyStatus        = attribute.Key("http.response.status_code")
	keyChallenge     = attribute.Key("authtransport.challenge")
	keyOperation     = attribute.Key("authtransport.store.operation")
	keyResendReason  = attribute.Key("authtransport.resend.reason")
	keyNoCredsReason = attribute.Key("authtransport.no_credentials.reason")
	keyLoginReason   = attribute.Key("authtransport.login.reason")
	keyLoginOutcome  = attribute.Key("authtransport.login.outcome")
	keyKind          = attribute.Key("authtransport.event.kind")
)

// Attribute values that the Transport does not supply.
const (
	outcomeSucceeded = "succeeded"
	outcomeFailed    = "failed"
	opLoad           = "load"
	opSave           = "save"
	// valueOther replaces a challenge's scheme or error code outside the
	// known set, as the semantic conventions spell it.
	valueOther = "_OTHER"
)

// The values of the Event fields that attributes are prebuilt for, by
// kind (see authtransport.EventKind). Others get theirs when they come.
var (
	failureDetails      = []string{"terminal", "transient"}
	resendDetails       = []string{"refreshed", "dpop-nonce", "scheme"}
	noCredentialDetails = []string{"plain-http", "other-origin", "own-authorization"}
	rejectionStatuses   = []int{401, 403}
	loginReasons        = []authtransport.Reason{
		authtransport.ReasonNoToken,
		authtransport.ReasonRefreshRejected,
		authtransport.ReasonRejectedAfterRefresh,
		authtransport.ReasonInsufficientScope,
		authtransport.ReasonStepUp,
	}
)

// noChallenge is the Event.Detail of a rejection without a challenge.
const noChallenge = "no challenge"

// challengeSchemes are the schemes whose challenges decide a rejection.
var challengeSchemes = []string{wwwauth.SchemeBearer, wwwauth.SchemeDPoP}

// challengeCodes are the error codes a challenge keeps in its attribute
// value; "" stands for a challenge without one.
var challengeCodes = []string{
	"",
	wwwauth.CodeInvalidRequest,
	wwwauth.CodeInvalidToken,
	wwwauth.CodeInsufficientScope,
	wwwauth.CodeInsufficientUserAuthentication,
	wwwauth.CodeUseDPoPNonce,
	wwwauth.CodeInvalidDPoPProof,
	valueOther,
}

// challengeValues lists every value that challengeValue returns.
func challengeValues() []string {
	v := []string{noChallenge, valueOther}
	for _, s := range challengeSchemes {
		for _, c := range challengeCodes {
			v = append(v, joinChallenge(s, c))
		}
	}
	return v
}

// challengeValue reduces the Detail of a rejection ("Bearer invalid_token")
// to one of challengeValues: a scheme other than Bearer or DPoP becomes
// "_OTHER", and so does an error code outside challengeCodes.
func challengeValue(detail string) string {
	if detail == noChallenge {
		return detail
	}
	scheme, code, _ := strings.Cut(detail, " ")
	known := ""
	for _, s := range challengeSchemes {
		if strings.EqualFold(scheme, s) {
			known = s
		}
	}
	if known == "" {
		return valueOther
	}
	for _, c := range challengeCodes {
		if code == c {
			return joinChallenge(known, code)
		}
	}
	return joinChallenge(known, valueOther)
}

func joinChallenge(scheme, code string) string {
	if code == "" {
		return scheme
	}
	return scheme + " " + code
}

// measure holds the options of one attribute set, built once, for
// counters and histograms. Passing a prebuilt slice keeps the variadic
// calls from allocating.
type measure struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

// measureOf returns the measure of extra, the attributes given to Events,
// and kvs, which win over extra where their keys are the same.
func measureOf(extra []attribute.KeyValue, kvs ...attribute.KeyValue) measure {
	all := make([]attribute.KeyValue, 0, len(extra)+len(kvs))
	all = append(append(all, extra...), kvs...)
	opt := metric.WithAttributeSet(attribute.NewSet(all...))
	return measure{add: []metric.AddOption{opt}, rec: []metric.RecordOption{opt}}
}

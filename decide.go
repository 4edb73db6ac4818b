package authtransport

import (
	"math"
	"math/rand/v2"
	"time"
)

// gen is what the Transport knows about one generation of credentials: a
// token and what happened to it. A published gen never changes; every change
// makes a new one, published under Transport.mu. docs/DESIGN.md describes the
// model.
type gen struct {
	tok  *Token
	auth string // the Authorization field value

	// dueAt is when requests start waiting for a new token; zero: never
	// (a token without expiry, used until it is rejected). After a
	// failed refresh it is when the failure may be retried, or the
	// expiry, whichever comes first.
	dueAt instant
	// aheadAt is when a request starts a refresh in the background and
	// goes on with tok; zero: never.
	aheadAt instant

	rejected     bool // a resource server rejected tok: no request may carry it
	proofRefused bool // a fresh DPoP proof with tok was refused after its refresh

	// fail is the last failed attempt to replace tok, if any.
	fail *failure
	// unsaved, if not nil, says the store failed to save tok.
	unsaved *unsaved
}

// instant is a point in time as Unix nanoseconds, 8 bytes where a
// time.Time takes 24 (a Transport per grant, for many grants, holds one
// generation each); zero is never.
type instant int64

// maxInstant is the latest time an instant holds; later times are taken
// as it (year 2262).
var maxInstant = time.Unix(0, math.MaxInt64)

func instantOf(t time.Time) instant {
	switch {
	case t.IsZero():
		return 0
	case t.After(maxInstant):
		return math.MaxInt64
	case t.UnixNano() <= 0:
		return 1 // before 1970: long past, and not never
	}
	return instant(t.UnixNano())
}

// reached reports whether i is not never and now is at or past it.
func (i instant) reached(now time.Time) bool { return i != 0 && now.UnixNano() >= int64(i) }

// failure is a failed refresh and when to try again.
type failure struct {
	err      error // what callers get: a *RefreshError, *LoginRequiredError or ErrNoRefresher
	terminal bool  // the token endpoint refused for good, or nothing can refresh
	run      backoff
}

// unsaved records that the store failed to save a token: it still holds
// base (nil: it was empty), whose refresh token the token's refresh spent.
type unsaved struct{ base *Token }

// usable reports whether a request may carry g's token at now without
// waiting for a refresh.
func (g *gen) usable(now time.Time) bool {
	return g != nil && g.tok != nil && g.tok.AccessToken != "" && !g.rejected && !g.dueAt.reached(now)
}

// pendingFailure returns g's failure if it may not be retried yet at now.
func (g *gen) pendingFailure(now time.Time) *failure {
	if g == nil || g.fail == nil || !g.fail.run.pending(now) {
		return nil
	}
	return g.fail
}

// step is what a caller does next.
type step int

const (
	stepUse     step = iota // carry the current token
	stepFail                // return the error of a pending failure
	stepRespond             // return the resource's response as it is
	stepJoin                // wait for the running flight
	stepCheck               // start a flight that only rereads the store
	stepRefresh             // start a flight that may refresh
	stepAhead               // start a flight in the background, carry the current token
)

// situation is what decide looks at: the Transport's state, and what the
// caller brings.
type situation struct {
	cur       *gen     // the current generation, nil before the first load
	flying    bool     // a flight is running
	storeFail *failure // the store's last failure, if it may not be retried yet
	early     backoff  // refreshes caused by rejections

	// seen is the token the caller's request carried and the resource
	// server rejected (when rejected is set); nil otherwise.
	seen     *Token
	rejected bool
	badProof bool // the rejection said invalid_dpop_proof
	// waited reports that the caller has already waited for a flight:
	// it takes the outcome and starts no flight that only rereads.
	waited bool
}

// plan is decide's answer: a step, and whether to mark the current token
// rejected first.
type plan struct {
	step step
	mark bool
}

// decide says what a caller that needs a token does, as a function of the
// situation and the clock only. The rules, in order:
//
//  1. The caller's rejected token is still current: a refused DPoP proof of
//     a refreshed token is answered with the response; otherwise the token
//     is marked rejected (no request carries it from then on) and the
//     caller waits for a flight: the running one, or a check while a
//     failure is pending, or a refresh if the rejection budget allows,
//     else it gets the response as it is (and the token goes on serving).
//  2. The current token is usable, or the flight the caller waited for
//     obtained it and it has not expired yet: carry it (starting a refresh
//     in the background once it is inside its refresh-ahead window).
//  3. Otherwise wait for the running flight, fail with the store's pending
//     failure, check the store while the token's failure is pending, or
//     refresh.
func decide(s situation, now time.Time) plan {
	cur := s.cur
	if s.rejected && cur != nil && sameToken(cur.tok, s.seen) && !cur.rejected {
		switch {
		case s.badProof && cur.proofRefused:
			return plan{step: stepRespond}
		case s.flying:
			return plan{step: stepJoin, mark: true}
		case cur.pendingFailure(now) != nil:
			return plan{step: stepCheck, mark: true}
		case s.early.pending(now):
			return plan{step: stepRespond}
		}
		return plan{step: stepRefresh, mark: true}
	}
	if s.waited && cur != nil && !cur.rejected && !cur.tok.expired(now) && cur.pendingFailure(now) == nil {
		// The flight just obtained it: use it even if it is due already
		// (it lives shorter than the refresh took).
		return plan{step: stepUse}
	}
	if cur.usable(now) {
		if !s.flying && cur.aheadAt.reached(now) && cur.pendingFailure(now) == nil && s.storeFail == nil {
			return plan{step: stepAhead}
		}
		return plan{step: stepUse}
	}
	switch {
	case s.flying:
		return plan{step: stepJoin}
	case s.storeFail != nil:
		return plan{step: stepFail}
	case cur.pendingFailure(now) != nil:
		if s.waited {
			return plan{step: stepFail}
		}
		return plan{step: stepCheck}
	}
	return plan{step: stepRefresh}
}

// flightKind is what a flight may do.
type flightKind int

const (
	flightRefresh flightKind = iota // reread, adopt or refresh
	flightCheck                     // reread the store, adopt a new token, nothing more
	flightAhead                     // refresh before the token is due; callers do not wait
	flightLogout                    // Transport.Logout: callers wait, then find no token
)

// outcome is what a flight does with what it loaded.
type outcome int

const (
	outcomeNone    outcome = iota // nothing to do: the current state stands
	outcomeAdopt                  // use the stored token
	outcomeLock                   // take the store's lock and reload first
	outcomeRefresh                // refresh from the base
)

// loaded is what judge looks at after a flight read the store.
type loaded struct {
	cur    *gen
	stored *Token // nil: the store is empty (or its token unusable)
	kind   flightKind
	locked bool // the flight holds the store's lock, or the store has none
	margin time.Duration
}

// judgement is judge's answer.
type judgement struct {
	outcome outcome
	base    *Token // the token to adopt, or the one a refresh replaces
	resave  bool   // save the current token again first: the store lost it
}

// judge says what a flight does with the token it loaded, as a function of
// what it loaded and the clock only. The rules, in order:
//
//  1. If the store still holds the token that this Transport's unsaved
//     token replaced, the unsaved token is the real current one: it is
//     saved again (under the lock) and is the base.
//  2. A stored token other than the current one was put there by someone
//     else (another Transport or process, or a login): adopt it if a
//     request may carry it.
//  3. Otherwise, unless the flight only checks or the current token is
//     still good, refresh from the stored token, under the store's lock.
func judge(l loaded, now time.Time) judgement {
	cur := l.cur
	j := judgement{base: l.stored}
	j.resave = cur != nil && cur.unsaved != nil && sameToken(l.stored, cur.unsaved.base)
	if j.resave {
		j.base = cur.tok
	}
	current := cur != nil && sameToken(j.base, cur.tok)
	if !current && adoptable(j.base, cur == nil, l.margin, now) {
		j.outcome = outcomeAdopt
		return j
	}
	stale := !current || !cur.usable(now) || l.kind == flightAhead
	switch {
	case j.resave && !l.locked:
		j.outcome = outcomeLock
	case l.kind == flightCheck || !stale:
		j.outcome = outcomeNone
	case !l.locked:
		j.outcome = outcomeLock
	default:
		j.outcome = outcomeRefresh
	}
	return j
}

// adoptable reports whether a request may carry tok, a token found in the
// store: it has not expired and is not due by its own schedule. When the
// token does not say when it was obtained (a store written by an older
// version), its age is unknown: on the first load it must be outside the
// margin, while a token that replaced the one this Transport held is taken
// as new.
func adoptable(tok *Token, first bool, margin time.Duration, now time.Time) bool {
	if tok.expired(now) {
		return false
	}
	if tok.ObtainedAt.IsZero() && first {
		return tok.Expiry.IsZero() || now.Add(margin).Before(tok.Expiry)
	}
	due := dueTime(tok, now, margin)
	return due.IsZero() || now.Before(due)
}

// dueTime returns when requests start waiting for a new token to replace
// tok, as seen at now: the margin before its expiry, or halfway through its
// life if it lives shorter than twice the margin; zero for a token without
// expiry. Its life counts from ObtainedAt, or from now when that is unknown.
func dueTime(tok *Token, now time.Time, margin time.Duration) time.Time {
	if tok.Expiry.IsZero() {
		return time.Time{}
	}
	obtained := tok.ObtainedAt
	if obtained.IsZero() || obtained.After(now) {
		obtained = now
	}
	return tok.Expiry.Add(-min(margin, tok.Expiry.Sub(obtained)/2))
}

// aheadTime returns when a background refresh of tok, due at due, starts:
// 75% of the way from when it was obtained (or now) to due, ±5% jitter so
// that processes sharing it do not refresh in step; zero when there is no
// time for one.
func aheadTime(tok *Token, due, now time.Time) time.Time {
	obtained := tok.ObtainedAt
	if obtained.IsZero() || obtained.After(now) {
		obtained = now
	}
	lead := due.Sub(obtained)
	if due.IsZero() || lead <= 0 {
		return time.Time{}
	}
	frac := 0.70 + 0.10*rand.Float64()
	return obtained.Add(time.Duration(float64(lead) * frac))
}

package authtransport

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

var stepNames = [...]string{"use", "fail", "respond", "join", "check", "refresh", "ahead"}

func (s step) String() string { return stepNames[s] }

var outcomeNames = [...]string{"none", "adopt", "lock", "refresh"}

func (o outcome) String() string { return outcomeNames[o] }

func (p plan) String() string {
	if p.mark {
		return "mark+" + p.step.String()
	}
	return p.step.String()
}

// Fixtures for the decision tables, all relative to one instant.
var (
	t0   = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tokA = &Token{AccessToken: "a", RefreshToken: "ra", Expiry: t0.Add(time.Hour), ObtainedAt: t0.Add(-time.Minute)}
	tokB = &Token{AccessToken: "b", RefreshToken: "rb", Expiry: t0.Add(time.Hour), ObtainedAt: t0.Add(-time.Second)}
)

// genOf returns a generation of tok at t0 with the given changes.
func genOf(tok *Token, change func(*gen)) *gen {
	g := &gen{tok: tok, auth: "Bearer " + tok.AccessToken, dueAt: instantOf(t0.Add(time.Hour))}
	if change != nil {
		change(g)
	}
	return g
}

var (
	pendingTransient = &failure{err: errors.New("503"), run: backoff{n: 1, at: t0, until: t0.Add(time.Second)}}
	pendingTerminal  = &failure{err: errors.New("invalid_grant"), terminal: true, run: backoff{n: 1, at: t0, until: t0.Add(5 * time.Minute)}}
	pastFailure      = &failure{err: errors.New("503"), run: backoff{n: 1, at: t0.Add(-time.Minute), until: t0.Add(-59 * time.Second)}}
	earlyPending     = backoff{n: 3, at: t0, until: t0.Add(time.Second)}
	earlyFree        = backoff{n: 1, at: t0, until: t0}
)

// TestDecide is the table of decide: what a caller that needs a token does.
func TestDecide(t *testing.T) {
	fresh := genOf(tokA, nil)
	due := genOf(tokA, func(g *gen) { g.dueAt = instantOf(t0) })
	expired := genOf(&Token{AccessToken: "a", RefreshToken: "ra", Expiry: t0.Add(-time.Second)}, func(g *gen) { g.dueAt = instantOf(t0.Add(-time.Minute)) })
	rejected := genOf(tokA, func(g *gen) { g.rejected = true })
	ahead := genOf(tokA, func(g *gen) { g.aheadAt = instantOf(t0.Add(-time.Second)) })
	aheadLater := genOf(tokA, func(g *gen) { g.aheadAt = instantOf(t0.Add(time.Second)) })
	noExpiry := genOf(&Token{AccessToken: "s"}, func(g *gen) { g.dueAt = 0 })
	noAccess := genOf(&Token{RefreshToken: "ra"}, func(g *gen) { g.dueAt = 0 })
	nilTok := &gen{}
	failedServing := genOf(tokA, func(g *gen) { g.fail = pendingTransient; g.dueAt = instantOf(t0.Add(time.Second)) })
	failedDue := genOf(tokA, func(g *gen) { g.fail = pendingTransient; g.dueAt = instantOf(t0) })
	failedTerminal := genOf(tokA, func(g *gen) { g.fail = pendingTerminal; g.dueAt = instantOf(t0) })
	failedPast := genOf(tokA, func(g *gen) { g.fail = pastFailure; g.dueAt = instantOf(t0.Add(-59 * time.Second)) })
	refused := genOf(tokA, func(g *gen) { g.proofRefused = true })
	aheadFailing := genOf(tokA, func(g *gen) { g.aheadAt = instantOf(t0.Add(-time.Second)); g.fail = pendingTransient })
	storeDown := &failure{err: errors.New("store down"), run: backoff{n: 1, at: t0, until: t0.Add(time.Second)}}
	rejectedA := func(s situation) situation { s.seen, s.rejected = tokA, true; return s }
	copyA := &Token{AccessToken: "a", RefreshToken: "ra"} // the same generation as tokA, another copy

	tests := []struct {
		name string
		s    situation
		want plan
	}{
		// Rule 2: a usable current token is carried.
		{"fresh token", situation{cur: fresh}, plan{step: stepUse}},
		{"token without expiry", situation{cur: noExpiry}, plan{step: stepUse}},
		{"fresh token, a flight running", situation{cur: fresh, flying: true}, plan{step: stepUse}},
		{"fresh token, store failing", situation{cur: fresh, storeFail: storeDown}, plan{step: stepUse}},
		{"fresh token, rejections spaced", situation{cur: fresh, early: earlyPending}, plan{step: stepUse}},
		{"failed refresh, token still serving", situation{cur: failedServing}, plan{step: stepUse}},
		{"inside the ahead window", situation{cur: ahead}, plan{step: stepAhead}},
		{"ahead window not reached", situation{cur: aheadLater}, plan{step: stepUse}},
		{"inside the ahead window, a flight running", situation{cur: ahead, flying: true}, plan{step: stepUse}},
		{"inside the ahead window, store failing", situation{cur: ahead, storeFail: storeDown}, plan{step: stepUse}},
		{"inside the ahead window, its retry pending", situation{cur: aheadFailing}, plan{step: stepUse}},
		{"the token a flight just got is due already", situation{cur: due, waited: true}, plan{step: stepUse}},
		{"the token a flight just got has expired", situation{cur: expired, waited: true}, plan{step: stepRefresh}},

		// Rule 3: no usable token.
		{"nothing loaded yet", situation{}, plan{step: stepRefresh}},
		{"nothing loaded yet, a flight running", situation{flying: true}, plan{step: stepJoin}},
		{"due", situation{cur: due}, plan{step: stepRefresh}},
		{"expired", situation{cur: expired}, plan{step: stepRefresh}},
		{"no access token", situation{cur: noAccess}, plan{step: stepRefresh}},
		{"no token at all", situation{cur: nilTok}, plan{step: stepRefresh}},
		{"rejected before", situation{cur: rejected}, plan{step: stepRefresh}},
		{"due, a flight running", situation{cur: due, flying: true}, plan{step: stepJoin}},
		{"due, store failing", situation{cur: due, storeFail: storeDown}, plan{step: stepFail}},
		{"due, store failing, a flight running", situation{cur: due, storeFail: storeDown, flying: true}, plan{step: stepJoin}},
		{"failed refresh pending: check the store", situation{cur: failedDue}, plan{step: stepCheck}},
		{"terminal failure pending: check the store", situation{cur: failedTerminal}, plan{step: stepCheck}},
		{"failed refresh pending, after a flight", situation{cur: failedDue, waited: true}, plan{step: stepFail}},
		{"failed refresh pending, store failing", situation{cur: failedDue, storeFail: storeDown}, plan{step: stepFail}},
		{"failure past its backoff", situation{cur: failedPast}, plan{step: stepRefresh}},
		{"due, rejections spaced (not a rejection)", situation{cur: due, early: earlyPending}, plan{step: stepRefresh}},

		// Rule 1: the caller's token was rejected and is still current.
		{"rejected", rejectedA(situation{cur: fresh}), plan{step: stepRefresh, mark: true}},
		{"rejected, another copy of the token", situation{cur: fresh, seen: copyA, rejected: true}, plan{step: stepRefresh, mark: true}},
		{"rejected, after two refreshes at once", rejectedA(situation{cur: fresh, early: earlyFree}), plan{step: stepRefresh, mark: true}},
		{"rejected, rejections spaced", rejectedA(situation{cur: fresh, early: earlyPending}), plan{step: stepRespond}},
		{"rejected, a flight running", rejectedA(situation{cur: fresh, flying: true}), plan{step: stepJoin, mark: true}},
		{"rejected, a flight running, spaced", rejectedA(situation{cur: fresh, flying: true, early: earlyPending}), plan{step: stepJoin, mark: true}},
		{"rejected, a failure pending", rejectedA(situation{cur: failedServing}), plan{step: stepCheck, mark: true}},
		{"rejected while due", rejectedA(situation{cur: due}), plan{step: stepRefresh, mark: true}},
		{"rejected, store failing", rejectedA(situation{cur: fresh, storeFail: storeDown}), plan{step: stepRefresh, mark: true}},
		{"rejected inside the ahead window", rejectedA(situation{cur: ahead}), plan{step: stepRefresh, mark: true}},
		{"bad proof, first time", situation{cur: fresh, seen: tokA, rejected: true, badProof: true}, plan{step: stepRefresh, mark: true}},
		{"bad proof of a token whose proof was refused", situation{cur: refused, seen: tokA, rejected: true, badProof: true}, plan{step: stepRespond}},
		{"other rejection of a token whose proof was refused", rejectedA(situation{cur: refused}), plan{step: stepRefresh, mark: true}},

		// Generation check: the caller's rejected token is no longer current.
		{"rejected an older token: use the new one", situation{cur: genOf(tokB, nil), seen: tokA, rejected: true}, plan{step: stepUse}},
		{"rejected an older token, spaced: use the new one", situation{cur: genOf(tokB, nil), seen: tokA, rejected: true, early: earlyPending}, plan{step: stepUse}},
		{"rejected an older token, the new one rejected too", situation{cur: genOf(tokB, func(g *gen) { g.rejected = true }), seen: tokA, rejected: true}, plan{step: stepRefresh}},
		{"rejected an older token, a flight running", situation{cur: genOf(tokB, func(g *gen) { g.rejected = true }), seen: tokA, rejected: true, flying: true}, plan{step: stepJoin}},
		{"rejected the token already marked", situation{cur: rejected, seen: tokA, rejected: true}, plan{step: stepRefresh}},
		{"rejected, nothing loaded", situation{seen: tokA, rejected: true}, plan{step: stepRefresh}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want.String(), decide(tt.s, t0).String())
		})
	}
	t.Logf("%d rows", len(tests))
}

// TestJudge is the table of judge: what a flight does with what it loaded.
func TestJudge(t *testing.T) {
	const margin = time.Minute
	fresh := genOf(tokA, nil)
	due := genOf(tokA, func(g *gen) { g.dueAt = instantOf(t0) })
	rejected := genOf(tokA, func(g *gen) { g.rejected = true })
	failed := genOf(tokA, func(g *gen) { g.fail = pendingTransient; g.dueAt = instantOf(t0) })
	unsavedOverA := genOf(tokB, func(g *gen) { g.unsaved = &unsaved{base: tokA} })
	unsavedOverNothing := genOf(tokB, func(g *gen) { g.unsaved = &unsaved{} })
	expiredTok := &Token{AccessToken: "x", RefreshToken: "rx", Expiry: t0.Add(-time.Second)}
	dueTok := &Token{AccessToken: "d", RefreshToken: "rd", Expiry: t0.Add(time.Minute), ObtainedAt: t0.Add(-time.Hour)}
	shortFresh := &Token{AccessToken: "s", RefreshToken: "rs", Expiry: t0.Add(8 * time.Second), ObtainedAt: t0.Add(-100 * time.Millisecond)}
	shortOld := &Token{AccessToken: "s", RefreshToken: "rs", Expiry: t0.Add(3 * time.Second), ObtainedAt: t0.Add(-5 * time.Second)}
	legacyShort := &Token{AccessToken: "l", RefreshToken: "rl", Expiry: t0.Add(8 * time.Second)}
	legacyLong := &Token{AccessToken: "l", RefreshToken: "rl", Expiry: t0.Add(time.Hour)}
	noExpiry := &Token{AccessToken: "n"}

	type want struct {
		outcome outcome
		base    *Token
		resave  bool
	}
	tests := []struct {
		name string
		l    loaded
		want want
	}{
		// First load (nothing current).
		{"first load, valid", loaded{stored: tokA}, want{outcomeAdopt, tokA, false}},
		{"first load, empty store", loaded{}, want{outcomeLock, nil, false}},
		{"first load, empty store, locked", loaded{locked: true}, want{outcomeRefresh, nil, false}},
		{"first load, expired", loaded{stored: expiredTok}, want{outcomeLock, expiredTok, false}},
		{"first load, due by its own schedule", loaded{stored: dueTok}, want{outcomeLock, dueTok, false}},
		{"first load, short-lived, just obtained elsewhere", loaded{stored: shortFresh}, want{outcomeAdopt, shortFresh, false}},
		{"first load, short-lived, past its half-life", loaded{stored: shortOld}, want{outcomeLock, shortOld, false}},
		{"first load, age unknown, inside the margin", loaded{stored: legacyShort}, want{outcomeLock, legacyShort, false}},
		{"first load, age unknown, outside the margin", loaded{stored: legacyLong}, want{outcomeAdopt, legacyLong, false}},
		{"first load, no expiry", loaded{stored: noExpiry}, want{outcomeAdopt, noExpiry, false}},
		{"first load, check flight", loaded{kind: flightCheck}, want{outcomeNone, nil, false}},

		// Someone else stored another token.
		{"another token stored", loaded{cur: due, stored: tokB}, want{outcomeAdopt, tokB, false}},
		{"another token stored, mine rejected", loaded{cur: rejected, stored: tokB}, want{outcomeAdopt, tokB, false}},
		{"another token stored, check flight", loaded{cur: failed, stored: tokB, kind: flightCheck}, want{outcomeAdopt, tokB, false}},
		{"another token stored, ahead flight", loaded{cur: fresh, stored: tokB, kind: flightAhead}, want{outcomeAdopt, tokB, false}},
		{"another token stored, age unknown, short", loaded{cur: due, stored: legacyShort}, want{outcomeAdopt, legacyShort, false}},
		{"another token stored, expired", loaded{cur: due, stored: expiredTok}, want{outcomeLock, expiredTok, false}},
		{"another token stored, due", loaded{cur: due, stored: dueTok, locked: true}, want{outcomeRefresh, dueTok, false}},
		{"store emptied (logout)", loaded{cur: due}, want{outcomeLock, nil, false}},
		{"store emptied, locked", loaded{cur: due, locked: true}, want{outcomeRefresh, nil, false}},

		// The store holds the current token.
		{"mine, due", loaded{cur: due, stored: tokA}, want{outcomeLock, tokA, false}},
		{"mine, due, locked", loaded{cur: due, stored: tokA, locked: true}, want{outcomeRefresh, tokA, false}},
		{"mine as another copy, due, locked", loaded{cur: due, stored: &Token{AccessToken: "a", RefreshToken: "ra"}, locked: true}, want{outcomeRefresh, nil, false}},
		{"mine, rejected", loaded{cur: rejected, stored: tokA}, want{outcomeLock, tokA, false}},
		{"mine, rejected, locked", loaded{cur: rejected, stored: tokA, locked: true}, want{outcomeRefresh, tokA, false}},
		{"mine, ahead flight", loaded{cur: fresh, stored: tokA, kind: flightAhead}, want{outcomeLock, tokA, false}},
		{"mine, ahead flight, locked", loaded{cur: fresh, stored: tokA, kind: flightAhead, locked: true}, want{outcomeRefresh, tokA, false}},
		{"mine, still fresh (refreshed meanwhile)", loaded{cur: fresh, stored: tokA, locked: true}, want{outcomeNone, tokA, false}},
		{"mine, check flight", loaded{cur: failed, stored: tokA, kind: flightCheck}, want{outcomeNone, tokA, false}},

		// The store failed to save the current token.
		{"unsaved over A, store still A", loaded{cur: unsavedOverA, stored: tokA}, want{outcomeLock, tokB, true}},
		{"unsaved over A, store still A, locked", loaded{cur: unsavedOverA, stored: tokA, locked: true}, want{outcomeNone, tokB, true}},
		{"unsaved over A, store still A, check flight, locked", loaded{cur: unsavedOverA, stored: tokA, kind: flightCheck, locked: true}, want{outcomeNone, tokB, true}},
		{"unsaved, store still empty, locked", loaded{cur: unsavedOverNothing, locked: true}, want{outcomeNone, tokB, true}},
		{"unsaved, store moved on: adopt, never overwrite", loaded{cur: unsavedOverA, stored: dueTok.withAccess("c"), locked: true}, want{outcomeRefresh, dueTok.withAccess("c"), false}},
		{"unsaved, store moved on to a valid token", loaded{cur: unsavedOverA, stored: shortFresh, locked: true}, want{outcomeAdopt, shortFresh, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.l.margin = margin
			if tt.l.cur != nil && tt.l.cur.tok == tokB {
				// unsaved rows: the current token is due, so that a
				// locked flight that is not resaving would refresh.
				c := *tt.l.cur
				tt.l.cur = &c
			}
			j := judge(tt.l, t0)
			assert.Equal(t, tt.want.outcome.String(), j.outcome.String(), "outcome")
			assert.Equal(t, tt.want.resave, j.resave, "resave")
			if tt.want.base == nil {
				if tt.want.outcome != outcomeRefresh || tt.l.stored == nil {
					assert.Nil(t, j.base, "base")
				}
			} else {
				assert.True(t, sameToken(tt.want.base, j.base), "base: want %v, got %v", tt.want.base, j.base)
			}
		})
	}
	t.Logf("%d rows", len(tests))
}

func (t *Token) withAccess(access string) *Token {
	c := *t
	c.AccessToken = access
	return &c
}

// TestSchedules pins when a token is due and when its background refresh
// starts.
func TestSchedules(t *testing.T) {
	const margin = time.Minute
	tests := []struct {
		name             string
		tok              *Token
		due              time.Duration // after t0; -1: never
		aheadLo, aheadHi time.Duration // after t0; both 0: never
	}{
		{"hour token, obtained now", &Token{AccessToken: "x", Expiry: t0.Add(time.Hour), ObtainedAt: t0}, 59 * time.Minute, time.Duration(0.70 * float64(59*time.Minute)), time.Duration(0.80 * float64(59*time.Minute))},
		{"hour token, age unknown", &Token{AccessToken: "x", Expiry: t0.Add(time.Hour)}, 59 * time.Minute, time.Duration(0.70 * float64(59*time.Minute)), time.Duration(0.80 * float64(59*time.Minute))},
		{"8 s token: due halfway", &Token{AccessToken: "x", Expiry: t0.Add(8 * time.Second), ObtainedAt: t0}, 4 * time.Second, 2800 * time.Millisecond, 3200 * time.Millisecond},
		{"8 s token obtained 2 s ago", &Token{AccessToken: "x", Expiry: t0.Add(6 * time.Second), ObtainedAt: t0.Add(-2 * time.Second)}, 2 * time.Second, 800 * time.Millisecond, 1200 * time.Millisecond},
		{"ObtainedAt in the future counts from now", &Token{AccessToken: "x", Expiry: t0.Add(8 * time.Second), ObtainedAt: t0.Add(time.Hour)}, 4 * time.Second, 2800 * time.Millisecond, 3200 * time.Millisecond},
		{"no expiry", &Token{AccessToken: "x"}, -1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			due := dueTime(tt.tok, t0, margin)
			if tt.due < 0 {
				assert.True(t, due.IsZero(), "never due")
				assert.True(t, aheadTime(tt.tok, due, t0).IsZero(), "no refresh ahead")
				return
			}
			assert.Equal(t, t0.Add(tt.due), due, "due")
			for range 50 {
				ahead := aheadTime(tt.tok, due, t0)
				assert.False(t, ahead.Before(t0.Add(tt.aheadLo)), "ahead %v before %v", ahead.Sub(t0), tt.aheadLo)
				assert.False(t, ahead.After(t0.Add(tt.aheadHi)), "ahead %v after %v", ahead.Sub(t0), tt.aheadHi)
			}
		})
	}
}

// TestBackoffSchedules pins every schedule with lower and upper bounds.
func TestBackoffSchedules(t *testing.T) {
	within := func(t *testing.T, d, nominal time.Duration, msg string) {
		t.Helper()
		lo, hi := nominal-nominal/5, nominal+nominal/5
		assert.True(t, d >= lo && d <= hi, "%s: %v outside [%v, %v]", msg, d, lo, hi)
	}
	for n, nominal := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute} {
		for range 20 {
			within(t, transientSchedule.wait(n+1), nominal, fmt.Sprintf("transient wait after failure %d", n+1))
		}
	}
	within(t, transientSchedule.wait(1000), time.Minute, "transient wait after many failures")
	assert.Equal(t, 5*time.Minute, terminalSchedule.wait(1))
	assert.Equal(t, 5*time.Minute, terminalSchedule.wait(7))
	assert.Equal(t, time.Duration(0), earlySchedule.wait(1), "the first refreshes a rejection asks for start at once")
	assert.Equal(t, time.Duration(0), earlySchedule.wait(2))
	within(t, earlySchedule.wait(3), time.Second, "after the third")
	within(t, earlySchedule.wait(4), 2*time.Second, "after the fourth")
	within(t, earlySchedule.wait(100), time.Minute, "capped")

	var b backoff
	assert.True(t, b.over(t0), "no run")
	b = b.next(t0, transientSchedule, 0)
	assert.Equal(t, 1, b.n)
	assert.True(t, b.pending(t0))
	b = b.next(t0.Add(1500*time.Millisecond), transientSchedule, 0)
	assert.Equal(t, 2, b.n, "a failure soon after the last one continues the run")
	b = b.next(b.at.Add(time.Hour), transientSchedule, 0)
	assert.Equal(t, 1, b.n, "a run ends after a quiet spell")
	b = backoff{}.next(t0, transientSchedule, 3*time.Minute)
	assert.Equal(t, t0.Add(3*time.Minute), b.until, "the floor (Retry-After) wins")
	b = backoff{}.next(t0, transientSchedule, time.Hour)
	assert.Equal(t, t0.Add(maxRetryAfter), b.until, "the floor is capped")
}

package authtransport

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// flight is one run of the shared work that replaces the current token: a
// single flight, which every caller needing a token joins. It runs on its
// own goroutine, detached from any caller's context, and ends within its
// budget (see Transport.RefreshTimeout).
type flight struct {
	kind flightKind
	done chan struct{} // closed when the flight has landed
	// why is what the resource server said when a rejection started the
	// flight (status and challenges), for a login (LoginReason).
	why *LoginRequiredError
	// login is set once the flight logs the user in: its waiters are
	// bounded by their own contexts only.
	login atomic.Bool
	// forgotten is set by Transport.Forget: the flight's failures are not
	// recorded (its tokens still are: a rotated refresh token must not be
	// lost). loggedOut is set by Transport.Logout: its tokens are neither
	// saved nor used.
	forgotten, loggedOut atomic.Bool
}

// trouble is the state the Transport keeps only while something went wrong,
// so that an idle Transport that never failed carries none of it.
type trouble struct {
	store    backoff // failures to lock or read the store in a row
	storeErr error   // what callers get while store is pending
	early    backoff // refreshes that rejections asked for
}

// ask is what a caller brings to obtain.
type ask struct {
	seen     *Token // the token its request carried, if it was rejected
	rejected bool
	badProof bool
	why      *LoginRequiredError // what the server said, with a rejection
}

// maxRounds bounds how many flights one caller waits for: the token of a
// flight may be rejected by another request before this caller uses it.
const maxRounds = 3

// obtain returns a generation that a request may carry, deciding with
// decide and running or joining the flight that obtains one when the
// current one will not do. respond reports that the caller should return
// the resource's response as it is (see decide).
func (t *Transport) obtain(ctx context.Context, a ask) (g *gen, respond bool, err error) {
	var bound *time.Timer
	defer func() {
		if bound != nil {
			bound.Stop()
		}
	}()
	for round := 0; ; round++ {
		now := time.Now()
		t.mu.Lock()
		s := t.situationLocked(a, round > 0, now)
		p := decide(s, now)
		if round == maxRounds && p.step >= stepJoin && p.step != stepAhead {
			t.mu.Unlock()
			return nil, false, &RefreshError{Err: errors.New("each new token was rejected before it could be used")}
		}
		if p.mark {
			t.markRejectedLocked(a.seen)
		}
		var f *flight
		switch p.step {
		case stepUse, stepAhead:
			g = t.cur.Load()
			if p.step == stepAhead {
				t.launchLocked(ctx, flightAhead, nil)
			}
			t.mu.Unlock()
			return g, false, nil
		case stepFail:
			err = t.pendingErrLocked(now)
			t.mu.Unlock()
			return nil, false, err
		case stepRespond:
			t.mu.Unlock()
			return nil, true, nil
		case stepJoin:
			f = t.flight.Load()
		case stepCheck:
			f = t.launchLocked(ctx, flightCheck, a.why)
		case stepRefresh:
			if p.mark {
				// A refresh that a rejection asks for: spaced.
				tr := t.troubleLocked()
				tr.early = tr.early.next(now, earlySchedule, 0)
			}
			f = t.launchLocked(ctx, flightRefresh, a.why)
		}
		t.mu.Unlock()
		if bound == nil {
			bound = time.NewTimer(t.waitBound())
		}
		if err := wait(ctx, f, bound); err != nil {
			return nil, false, err
		}
		// The flight's outcome is in the state now: take it.
		a = ask{}
	}
}

// wait waits for f to land, until ctx ends or, unless f logs the user in,
// bound fires.
func wait(ctx context.Context, f *flight, bound *time.Timer) error {
	for {
		select {
		case <-f.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-bound.C:
			if !f.login.Load() {
				return &RefreshError{Err: fmt.Errorf("gave up waiting for the token refresh: %w", context.DeadlineExceeded)}
			}
			// A login takes as long as the user: wait on.
			bound.Reset(time.Hour)
		}
	}
}

// waitBound is how long a caller waits for flights at most, should a
// Refresher or Store ignore its context: the lock wait, the refresh and the
// save, each bounded by the refresh timeout, without overflowing for a huge
// one.
func (t *Transport) waitBound() time.Duration {
	return min(t.refreshTimeout(), (math.MaxInt64-time.Second)/3)*3 + time.Second
}

// situationLocked gathers what decide looks at.
func (t *Transport) situationLocked(a ask, waited bool, now time.Time) situation {
	s := situation{
		cur:      t.cur.Load(),
		flying:   t.flight.Load() != nil,
		seen:     a.seen,
		rejected: a.rejected,
		badProof: a.badProof,
		waited:   waited,
	}
	if tr := t.trouble; tr != nil {
		s.early = tr.early
		if tr.store.pending(now) {
			s.storeFail = &failure{err: tr.storeErr, run: tr.store}
		}
	}
	return s
}

// pendingErrLocked returns the error of the failure decide found pending:
// the store's, else the current generation's.
func (t *Transport) pendingErrLocked(now time.Time) error {
	if tr := t.trouble; tr != nil && tr.store.pending(now) {
		return tr.storeErr
	}
	return t.cur.Load().fail.err
}

func (t *Transport) troubleLocked() *trouble {
	if t.trouble == nil {
		t.trouble = new(trouble)
	}
	return t.trouble
}

// markRejectedLocked withdraws the current generation, whose token a
// resource server rejected: from now on no request carries it.
func (t *Transport) markRejectedLocked(tok *Token) {
	if cur := t.cur.Load(); cur != nil && sameToken(cur.tok, tok) && !cur.rejected {
		g := *cur
		g.rejected = true
		t.cur.Store(&g)
	}
}

// markProofRefused records that a fresh DPoP proof with tok, just
// obtained, was refused: the next refusal of it is answered with the
// response instead of another refresh.
func (t *Transport) markProofRefused(tok *Token) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if cur := t.cur.Load(); cur != nil && sameToken(cur.tok, tok) && !cur.proofRefused {
		g := *cur
		g.proofRefused = true
		t.cur.Store(&g)
	}
}

// launchLocked starts a flight of kind for a caller with ctx. The flight
// keeps ctx's values (an oauth2.HTTPClient, a trace) but not its
// cancellation: it serves every caller.
func (t *Transport) launchLocked(ctx context.Context, kind flightKind, why *LoginRequiredError) *flight {
	f := &flight{kind: kind, done: make(chan struct{}), why: why}
	t.flight.Store(f)
	go t.fly(context.WithoutCancel(ctx), f)
	return f
}

// fly is a flight's work. It rereads the store without its lock and adopts
// a token someone else stored; only when a refresh may be needed does it
// take the lock, reread, and refresh and save under it. What it finds goes
// into the state; callers then decide again.
func (t *Transport) fly(detached context.Context, f *flight) {
	defer t.land(f)
	ctx, cancel := context.WithTimeout(detached, t.refreshTimeout())
	defer cancel()
	store := t.store()
	ls, locking := store.(LockingStore)
	stored, why, err := t.load(ctx, store)
	if err != nil {
		t.storeFailed(f, err)
		return
	}
	j := t.judgeLoaded(f.kind, stored, !locking)
	var login *loginNeed
	if j.outcome == outcomeLock {
		login = t.flyLocked(detached, ctx, f, ls)
	} else {
		login = t.act(ctx, f, store, j, why)
	}
	if login != nil {
		// The store's lock is free again: a login takes minutes.
		t.logIn(detached, f, login)
	}
}

// flyLocked goes on with a flight under the store's lock, waited for with
// waitCtx: it rereads the store and acts on what it finds.
func (t *Transport) flyLocked(detached, waitCtx context.Context, f *flight, ls LockingStore) *loginNeed {
	unlock, err := t.lock(waitCtx, ls)
	if err != nil {
		t.storeFailed(f, err)
		return nil
	}
	defer unlock()
	// Waiting for the lock must not eat into the refresh: a refresh cut
	// short after the server rotated the refresh token would lose the new
	// one. Holding the lock, start a budget of its own.
	ctx, cancel := context.WithTimeout(detached, t.refreshTimeout())
	defer cancel()
	stored, why, err := t.load(ctx, ls)
	if err != nil {
		t.storeFailed(f, err)
		return nil
	}
	return t.act(ctx, f, ls, t.judgeLoaded(f.kind, stored, true), why)
}

// act carries out a judgement on what the flight loaded. It returns what a
// login needs when a refresh showed that only a login can help and the
// Transport may log in.
func (t *Transport) act(ctx context.Context, f *flight, store Store, j judgement, why error) *loginNeed {
	t.storeRecovered(f)
	if j.resave {
		// One try: the refresh that may follow saves again anyway.
		if err := saveOnce(ctx, store, j.base); err == nil {
			t.resaved(f, j.base)
		}
	}
	switch j.outcome {
	case outcomeAdopt:
		t.adopt(f, j.base)
	case outcomeRefresh:
		return t.refreshFrom(ctx, f, store, j.base, why)
	}
	return nil
}

// land ends a flight: it is no longer joined, and its waiters wake.
func (t *Transport) land(f *flight) {
	if v := recover(); v != nil {
		// A bug of ours, not of a callback (those are recovered where
		// they are called): the callers get a transient failure.
		t.failed(f, t.cur.Load().tokOrNil(), &RefreshError{Err: panicError("refresh", v)}, nil)
	}
	t.landed(f)
}

// landed is the end of every flight, a logout's too.
func (t *Transport) landed(f *flight) {
	t.mu.Lock()
	t.flight.CompareAndSwap(f, nil)
	if tr := t.trouble; tr != nil && tr.store.n == 0 && tr.early.over(time.Now()) {
		t.trouble = nil // nothing left to remember
	}
	t.mu.Unlock()
	close(f.done)
}

func (g *gen) tokOrNil() *Token {
	if g == nil {
		return nil
	}
	return g.tok
}

// judgeLoaded runs judge on the current state for a flight of kind.
func (t *Transport) judgeLoaded(kind flightKind, stored *Token, locked bool) judgement {
	t.mu.Lock()
	cur := t.cur.Load()
	t.mu.Unlock()
	return judge(loaded{cur: cur, stored: stored, kind: kind, locked: locked, margin: t.margin()}, time.Now())
}

// publishLocked makes g current, unless Transport.Logout ended the flight
// f, or g records a failure of a flight that Transport.Forget ended.
func (t *Transport) publishLocked(f *flight, g *gen) bool {
	if f.loggedOut.Load() || (g.fail != nil && f.forgotten.Load()) {
		return false
	}
	t.cur.Store(g)
	return true
}

// adopt makes tok, a token someone else stored, current.
func (t *Transport) adopt(f *flight, tok *Token) {
	t.mu.Lock()
	ok := t.publishLocked(f, t.newGen(tok, time.Now()))
	t.mu.Unlock()
	if ok {
		t.emit(context.Background(), Event{Kind: EventTokenAdopted})
	}
}

// markUnsaved records u on the current generation when it is tok's: the
// store failed to save tok.
func (t *Transport) markUnsaved(f *flight, tok *Token, u *unsaved) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if cur := t.cur.Load(); cur != nil && sameToken(cur.tok, tok) && cur.unsaved == nil {
		g := *cur
		g.unsaved = u
		t.publishLocked(f, &g)
	}
}

// resaved records that tok, which the store had failed to save, is saved.
func (t *Transport) resaved(f *flight, tok *Token) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if cur := t.cur.Load(); cur != nil && cur.unsaved != nil && sameToken(cur.tok, tok) {
		g := *cur
		g.unsaved = nil
		t.publishLocked(f, &g)
	}
}

// newGen returns the generation of tok as obtained or loaded at now.
func (t *Transport) newGen(tok *Token, now time.Time) *gen {
	g := &gen{tok: tok}
	if tok == nil {
		return g
	}
	g.auth = tok.Type() + " " + tok.AccessToken
	due := dueTime(tok, now, t.margin())
	if tok.expired(now) {
		due = now
	}
	g.dueAt = instantOf(due)
	if !t.DisableRefreshAhead {
		g.aheadAt = instantOf(aheadTime(tok, due, now))
	}
	return g
}

// withFailure returns a copy of g, the generation of the token a refresh
// failed to replace, that carries f and goes on serving as servingUntil
// says until f may be retried.
func (g *gen) withFailure(f *failure, now time.Time) *gen {
	c := g.servingUntil(f.run.until, now)
	c.fail = f
	return c
}

// servingUntil returns a copy of g for a token that cannot be replaced
// before retry. A token that has not expired and was not rejected goes on
// serving: until its own due time, with a background attempt from retry on;
// or, if it is due already, until retry or its expiry, whichever comes
// first.
func (g *gen) servingUntil(retry, now time.Time) *gen {
	c := *g
	if c.rejected || c.tok.expired(now) {
		c.dueAt, c.aheadAt = instantOf(now), 0
		return &c
	}
	if exp := c.tok.Expiry; !exp.IsZero() && exp.Before(retry) {
		retry = exp
	}
	switch r := instantOf(retry); {
	case c.dueAt == 0:
		c.aheadAt = 0
	case r < c.dueAt:
		c.aheadAt = r
	default:
		c.dueAt, c.aheadAt = r, 0
	}
	return &c
}

// refreshFrom asks the Refresher for a token to replace base, then saves
// and publishes it, or records the failure; or, when only a login can help
// and the Transport may log in, returns what the login needs. why is the
// store's reason for having no usable token, if it gave one.
func (t *Transport) refreshFrom(ctx context.Context, f *flight, store Store, base *Token, why error) *loginNeed {
	if t.Refresher == nil {
		if t.Login != nil {
			return t.loginNeed(f, base, &LoginRequiredError{Reason: ReasonNoToken, Err: why})
		}
		err := ErrNoRefresher
		if why != nil {
			err = fmt.Errorf("%w (%w)", ErrNoRefresher, why)
		}
		t.failed(f, base, err, nil)
		return nil
	}
	if f.loggedOut.Load() {
		return nil
	}
	t.emit(ctx, Event{Kind: EventRefreshStarted})
	start := time.Now()
	tok, err := t.callRefresher(t.tokenContext(ctx), base)
	now := time.Now()
	var keptUnsaved *unsaved // the record of an unusable answer's token the store failed to save
	if err == nil {
		var kept *Token
		if kept, err = t.checkRefreshed(tok, now); err == nil {
			tok = kept
		} else if kept != nil && kept.RefreshToken != "" && (base == nil || kept.RefreshToken != base.RefreshToken) {
			// The answer is unusable but carries a new refresh token,
			// which the server may have rotated already: keep it, and
			// refresh from it next time. Unsaved, it is kept in memory
			// like any token the store failed to save.
			if saveErr := t.saveFor(ctx, f, store, kept); saveErr != nil {
				t.mu.Lock()
				keptUnsaved = t.unsavedOverLocked(base)
				t.mu.Unlock()
			}
			base = kept
		}
	}
	secrets := t.secretsOf(base, tok)
	if err != nil {
		err = classify(err, why, base, secrets)
		ev := &Event{Kind: EventRefreshFailed, Duration: now.Sub(start), Err: err}
		var lr *LoginRequiredError
		if errors.As(err, &lr) && t.Login != nil {
			ev.Detail = "terminal"
			t.emit(ctx, *ev)
			return t.loginNeed(f, base, lr)
		}
		t.failed(f, base, err, ev)
		if keptUnsaved != nil {
			t.markUnsaved(f, base, keptUnsaved)
		}
		return nil
	}
	t.install(ctx, f, store, base, tok, now, Event{Kind: EventRefreshSucceeded, Duration: now.Sub(start)})
	return nil
}

// install saves tok, just obtained at now to replace base, and makes it
// current, then reports ev; a token that could not be saved is kept in
// memory as unsaved. A flight that Transport.Logout ended does neither.
// The caller holds the store's lock, if it has one.
func (t *Transport) install(ctx context.Context, f *flight, store Store, base, tok *Token, now time.Time, ev Event) {
	saveErr := t.saveFor(ctx, f, store, tok)
	if f.loggedOut.Load() {
		return
	}
	t.mu.Lock()
	if cur := t.cur.Load(); cur != nil && cur.rejected && sameToken(cur.tok, tok) {
		// A caching Refresher handed back the current token, and a
		// resource server rejected it meanwhile.
		t.mu.Unlock()
		t.failed(f, base, &RefreshError{Err: errors.New("refresher returned the rejected token")}, &Event{Kind: EventRefreshFailed, Duration: ev.Duration})
		return
	}
	g := t.newGen(tok, now)
	if saveErr != nil {
		g.unsaved = t.unsavedOverLocked(base)
	}
	t.publishLocked(f, g)
	t.mu.Unlock()
	t.emit(ctx, ev)
	if saveErr != nil {
		t.emit(ctx, Event{Kind: EventSaveFailed, Err: scrubError(saveErr, t.secretsOf(tok))})
	}
}

// unsavedOverLocked returns the record of a token that could not be saved
// over base: the store still holds base, or, when base itself was never
// saved, what base replaced.
func (t *Transport) unsavedOverLocked(base *Token) *unsaved {
	if cur := t.cur.Load(); cur != nil && cur.unsaved != nil && sameToken(cur.tok, base) {
		return &unsaved{base: cur.unsaved.base}
	}
	return &unsaved{base: base}
}

// saveFor saves tok for flight f, unless Transport.Logout ended f.
func (t *Transport) saveFor(ctx context.Context, f *flight, store Store, tok *Token) error {
	if f.loggedOut.Load() {
		return nil
	}
	return t.save(ctx, store, tok)
}

// checkRefreshed returns a copy of tok, the Refresher's answer, with
// ObtainedAt set, or an error for a token no request could use (with the
// copy still, when there is a token, so that the caller can keep a new
// refresh token that came with it).
func (t *Transport) checkRefreshed(tok *Token, now time.Time) (*Token, error) {
	if tok == nil {
		return nil, &RefreshError{Err: errors.New("refresher returned no token")}
	}
	c := *tok
	if c.ObtainedAt.IsZero() {
		c.ObtainedAt = now
	}
	switch {
	case tok.AccessToken == "":
		return &c, &RefreshError{Err: errors.New("refresher returned no access token")}
	case tok.expired(now):
		return &c, &RefreshError{Err: errors.New("refresher returned an expired token")}
	}
	t.mu.Lock()
	cur := t.cur.Load()
	t.mu.Unlock()
	if cur != nil && cur.rejected && sameToken(cur.tok, tok) {
		// A caching refresher handed back the token a resource server
		// has just rejected.
		return nil, &RefreshError{Err: errors.New("refresher returned the rejected token")}
	}
	return &c, nil
}

// failed records err, the failure of a flight to replace base, and reports
// ev (with err) when not nil.
func (t *Transport) failed(f *flight, base *Token, err error, ev *Event) {
	var lr *LoginRequiredError
	var re *RefreshError
	t.failedAs(f, base, err, errors.As(err, &lr) || errors.Is(err, ErrNoRefresher) || (errors.As(err, &re) && re.Terminal), ev)
}

// failedAs is failed with the failure's kind given: a terminal one is held
// off by terminalSchedule, a transient one by transientSchedule (and the
// error's Retry-After).
func (t *Transport) failedAs(f *flight, base *Token, err error, terminal bool, ev *Event) {
	now := time.Now()
	var re *RefreshError
	errors.As(err, &re)
	t.mu.Lock()
	cur := t.cur.Load()
	g := cur
	if g == nil || !sameToken(g.tok, base) {
		g = t.newGen(base, now)
	}
	var run backoff
	if g.fail != nil && g.fail.terminal == terminal {
		run = g.fail.run
	}
	sched, floor := transientSchedule, time.Duration(0)
	if terminal {
		sched = terminalSchedule
	} else if re != nil {
		floor = re.RetryAfter
	}
	fl := &failure{err: err, terminal: terminal, run: run.next(now, sched, floor)}
	t.publishLocked(f, g.withFailure(fl, now))
	t.mu.Unlock()
	if ev != nil {
		ev.Detail = "transient"
		if terminal {
			ev.Detail = "terminal"
		}
		t.emit(context.Background(), *ev)
	}
}

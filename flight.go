package authtransport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"
)

// failure is the last failed refresh, kept so that callers do not hammer an
// authorization server that refused or is down.
type failure struct {
	base     *Token    // the stored token that could not be refreshed
	err      error     // what the callers get
	until    time.Time // when to try again
	terminal bool      // the server refused: only the user can help
	count    int       // consecutive transient failures
	// afterRefresh marks the record of a token rejected right after
	// its own refresh (see rejectedAfterRefresh).
	afterRefresh bool
}

// unsaved is a refreshed token the store failed to save, and the stored
// token it replaces. Its refresh token is the only one that still works.
type unsaved struct {
	tok, base *Token
}

// Backoff after failed refreshes: transient failures wait backoffBase,
// doubling per failure up to backoffCap, with ±20% jitter, and at least the
// server's Retry-After; a terminal failure is not retried for the same
// stored token for terminalBackoff.
const (
	backoffBase     = time.Second
	backoffCap      = time.Minute
	terminalBackoff = 5 * time.Minute
)

// usable returns the token to attach, refreshing first when it is missing
// or due.
func (t *Transport) usable(ctx context.Context) (*current, error) {
	cur := t.cur.Load()
	if cur != nil && !cur.due(time.Now()) {
		return cur, nil
	}
	return t.refresh(ctx, cur, false)
}

// due reports whether c must be refreshed before it is used.
func (c *current) due(now time.Time) bool {
	return (!c.refreshAt.IsZero() && !now.Before(c.refreshAt)) || c.tok.expiresWithin(now, 0)
}

// refresh returns a token newer than stale, running or joining the single
// flight that obtains one. rejected tells that the resource server refused
// stale, as opposed to stale being due.
func (t *Transport) refresh(ctx context.Context, stale *current, rejected bool) (*current, error) {
	var staleTok *Token
	if stale != nil {
		staleTok = stale.tok
	}
	// Another caller may have replaced the token already.
	if cur := t.cur.Load(); cur != nil && !sameToken(cur.tok, staleTok) && !cur.due(time.Now()) {
		return cur, nil
	}
	if !rejected {
		return t.join(ctx, staleTok, false)
	}
	if f := t.recentFailure(staleTok, time.Now()); f != nil && f.afterRefresh {
		// The token was rejected right after its own refresh and its
		// refreshes are backed off: keep it for the resources that
		// accept it.
		return nil, f.err
	}
	// From now on no flight serves the rejected token and new requests
	// wait for the flight instead of carrying it.
	t.markRejected(staleTok)
	c, err := t.join(ctx, staleTok, true)
	if err == nil && t.isRejected(c.tok) {
		// The flight joined had published its token before it was
		// rejected: a new flight refreshes it.
		c, err = t.join(ctx, staleTok, true)
		if err == nil && t.isRejected(c.tok) {
			return nil, errRejectedMeanwhile()
		}
	}
	return c, err
}

// errRejectedMeanwhile returns the transient failure of a flight whose
// token a resource server rejected while the flight obtained it.
func errRejectedMeanwhile() error {
	return &RefreshError{Err: errors.New("token rejected while it was obtained")}
}

// join runs or joins the flight. The flight's work is detached from ctx;
// the caller stops waiting when ctx ends.
func (t *Transport) join(ctx context.Context, stale *Token, rejected bool) (*current, error) {
	ch := t.flights.DoChan("", func() (any, error) {
		return t.obtain(context.WithoutCancel(ctx), stale, rejected)
	})
	// Lock wait, refresh and save, each bounded by RefreshTimeout,
	// without overflowing for a huge one.
	timer := time.NewTimer(min(t.refreshTimeout(), (math.MaxInt64-time.Second)/3)*3 + time.Second)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil, &RefreshError{Err: context.DeadlineExceeded}
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*current), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// obtain is the shared work of a flight. Under the store's lock, if it has
// one, it reloads the store and adopts the stored token if it is newer than
// stale; otherwise it refreshes and saves. When refreshing fails, a stored
// token that has not expired and was not rejected goes on serving until the
// failure's backoff ends.
func (t *Transport) obtain(detached context.Context, stale *Token, rejected bool) (*current, error) {
	ctx, cancel := context.WithTimeout(detached, t.refreshTimeout())
	defer cancel()
	if rejected {
		t.markRejected(stale)
	}
	// A token this process holds stays usable if the store fails.
	fallback := t.usableFallback(stale, time.Now())
	if f := t.recentStoreFailure(stale, time.Now()); f != nil {
		return t.orFallback(fallback, f)
	}
	store := t.store()
	if ls, ok := store.(LockingStore); ok {
		unlock, err := ls.Lock(ctx)
		if err != nil {
			return t.storeFailed(ctx, stale, fallback, fmt.Errorf("lock token store: %w", err))
		}
		defer unlock()
		// Waiting for the lock must not eat into the refresh: a refresh
		// cut short after the server rotated the refresh token would
		// lose the new one. Holding the lock, start a budget of its own.
		var cancelHeld context.CancelFunc
		ctx, cancelHeld = context.WithTimeout(detached, t.refreshTimeout())
		defer cancelHeld()
	}
	stored, err := t.load(ctx, store)
	if err != nil {
		return t.storeFailed(ctx, stale, fallback, fmt.Errorf("load token: %w", err))
	}
	t.mu.Lock()
	t.storeFail = nil
	t.mu.Unlock()

	now := time.Now()
	fallback = t.usableFallback(stored, now)
	if fallback != nil && !sameToken(stored, stale) {
		switch {
		case stale != nil:
			// Another caller or process replaced the token: adopt it,
			// even if it lives shorter than the margin.
			return t.publish(stored, t.refreshAt(stored, now))
		case !stored.expiresWithin(now, t.margin()):
			// First load.
			return t.publish(stored, t.loadedRefreshAt(stored))
		}
	}
	if f := t.recentFailure(stored, now); f != nil {
		return t.orFallback(fallback, f)
	}
	if t.Refresher == nil {
		return t.orFallback(fallback, &failure{err: &LoginRequiredError{Reason: ReasonNoToken}, terminal: true})
	}

	t.log(ctx, slog.LevelInfo, "authtransport: refreshing token")
	tok, err := t.Refresher.Refresh(t.refreshContext(ctx), stored)
	now = time.Now()
	if err == nil {
		err = checkRefreshed(tok, now)
	}
	if err == nil && t.usableFallback(tok, now) == nil {
		// A caching refresher handed back a token a resource server
		// has rejected: no request may carry it.
		err = &RefreshError{Err: errors.New("refresher returned the rejected token")}
	}
	if err != nil {
		f := t.recordFailure(stored, err, now)
		t.log(ctx, slog.LevelWarn, "authtransport: token refresh failed", slog.Any("error", f.err))
		return t.orFallback(fallback, f)
	}
	t.recordSuccess()
	t.save(ctx, store, stored, tok)
	t.log(ctx, slog.LevelInfo, "authtransport: token refreshed", slog.Any("token", *tok))
	return t.publish(tok, t.refreshAt(tok, now))
}

// checkRefreshed rejects a token no request could use.
func checkRefreshed(tok *Token, now time.Time) error {
	switch {
	case tok == nil || tok.AccessToken == "":
		return &RefreshError{Err: errors.New("refresher returned no access token")}
	case tok.expiresWithin(now, 0):
		return &RefreshError{Err: errors.New("refresher returned an expired token")}
	}
	return nil
}

// load reads the store. If this process refreshed a token that the store
// failed to save and the store still holds its predecessor, whose refresh
// token is spent, it tries the save again and returns the unsaved token.
func (t *Transport) load(ctx context.Context, store Store) (*Token, error) {
	stored, err := store.Load(ctx)
	if errors.Is(err, ErrNoToken) {
		stored, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	u := t.unsaved
	t.mu.Unlock()
	if u == nil {
		return stored, nil
	}
	if !sameToken(stored, u.base) {
		// The store has moved on.
		t.setUnsaved(nil)
		return stored, nil
	}
	if err := store.Save(ctx, u.tok); err == nil {
		t.setUnsaved(nil)
	}
	return u.tok, nil
}

// save stores tok, which replaces base, trying a few times: the refresh
// token that came with tok may be the only one that still works, and other
// processes can only get it from the store. Saving is not cut short by the
// refresh timeout. When it still fails, tok is served from memory and saved
// again on the next refresh of this Transport; a process that exits before
// then loses it (the Logger gets an error record).
func (t *Transport) save(ctx context.Context, store Store, base, tok *Token) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.refreshTimeout())
	defer cancel()
	var err error
	for _, wait := range []time.Duration{0, 50 * time.Millisecond, 200 * time.Millisecond} {
		if wait > 0 && !sleep(ctx, wait) {
			break
		}
		if err = store.Save(ctx, tok); err == nil {
			t.setUnsaved(nil)
			return
		}
	}
	t.mu.Lock()
	if u := t.unsaved; u != nil && sameToken(u.tok, base) {
		base = u.base // base itself was never saved
	}
	t.unsaved = &unsaved{tok: tok, base: base}
	t.mu.Unlock()
	t.log(ctx, slog.LevelError, "authtransport: saving refreshed token failed; it lives only in this process", slog.Any("error", err))
}

// sleep waits d and reports true, or reports false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (t *Transport) setUnsaved(u *unsaved) {
	t.mu.Lock()
	t.unsaved = u
	t.mu.Unlock()
}

// storeFailed handles a store that could not be locked or read: a
// transient failure of the refresh.
func (t *Transport) storeFailed(ctx context.Context, stale, fallback *Token, err error) (*current, error) {
	if needsLogin(err) {
		// Rereading a small file is cheap, and a new login must be
		// picked up at once: no backoff.
		return t.orFallback(fallback, &failure{err: &LoginRequiredError{Reason: ReasonNoToken, Err: err}, terminal: true})
	}
	var cause error = &RefreshError{Err: err}
	t.mu.Lock()
	f := &failure{base: stale, err: cause, count: 1}
	if p := t.storeFail; p != nil && sameToken(p.base, stale) {
		f.count = p.count + 1
	}
	f.until = time.Now().Add(backoff(f.count))
	t.storeFail = f
	t.mu.Unlock()
	t.log(ctx, slog.LevelWarn, "authtransport: token store failed", slog.Any("error", f.err))
	return t.orFallback(fallback, f)
}

// needsLogin reports whether a store's error is one that waiting cannot
// fix but a new login can, because saving a new token replaces the file: a
// corrupt token file, one from a newer version, or one others can read.
func needsLogin(err error) bool {
	var ce *CorruptFileError
	var ve *FileVersionError
	var me *FileModeError
	return errors.As(err, &ce) || errors.As(err, &ve) || errors.As(err, &me)
}

// usableFallback returns tok if a request may still carry it: it has not
// expired and no resource server rejected it.
func (t *Transport) usableFallback(tok *Token, now time.Time) *Token {
	if tok == nil || tok.expiresWithin(now, 0) || t.isRejected(tok) {
		return nil
	}
	return tok
}

// markRejected remembers that a resource server rejected tok, and
// withdraws it if it is the published token. Together with publish, which
// holds the same lock, it ensures no request carries tok from then on.
func (t *Transport) markRejected(tok *Token) {
	if tok == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.cur.Load(); c != nil && sameToken(c.tok, tok) {
		t.cur.Store(nil)
	}
	if t.isRejectedLocked(tok) {
		return
	}
	t.rejectedTok[t.rejectedN%len(t.rejectedTok)] = tok
	t.rejectedN++
}

func (t *Transport) isRejected(tok *Token) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.isRejectedLocked(tok)
}

func (t *Transport) isRejectedLocked(tok *Token) bool {
	for _, r := range t.rejectedTok {
		if r != nil && sameToken(tok, r) {
			return true
		}
	}
	return false
}

// rejectedAfterRefresh records that a resource server rejected tok, a
// token obtained for the very request it rejected. Refreshing again at once
// is unlikely to help and, against a server that refuses every token, would
// spend a refresh token per request: refreshes of tok wait for a backoff
// that grows with each token in a row so rejected (1 s doubling to 1 min,
// with jitter), during which rejected callers get a transient
// *RefreshError. Concurrent requests that saw the same token rejected count
// once, and a resend that succeeds after a refresh ends the streak. tok
// stays in use until a request is rejected with it, and a newer token in
// the store is adopted at once.
func (t *Transport) rejectedAfterRefresh(tok *Token) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.failure; f != nil && f.afterRefresh && sameToken(f.base, tok) {
		return
	}
	if now.Sub(t.rejectedAfterRefreshAt) > 2*backoffCap {
		t.rejectedAfterRefreshN = 0
	}
	t.rejectedAfterRefreshN++
	t.rejectedAfterRefreshAt = now
	t.failure = &failure{
		base:         tok,
		err:          &RefreshError{Err: errors.New("the refreshed token was rejected at once; refreshing again later")},
		until:        now.Add(backoff(t.rejectedAfterRefreshN)),
		afterRefresh: true,
	}
}

// refreshedTokenAccepted ends a streak of tokens rejected right after
// their refresh: a resend with a refreshed token succeeded.
func (t *Transport) refreshedTokenAccepted() {
	t.mu.Lock()
	t.rejectedAfterRefreshN = 0
	t.mu.Unlock()
}

// backoff returns the wait after the nth failure in a row: backoffBase
// doubling up to backoffCap, with ±20% jitter so that processes sharing a
// store do not retry in step.
func backoff(n int) time.Duration {
	wait := min(backoffBase<<min(n-1, 16), backoffCap)
	return wait + time.Duration(rand.Int64N(int64(wait)*2/5+1)) - wait/5
}

// refreshAt is when to refresh a token that is new at now: the margin
// before its expiry, or halfway through its life if it lives shorter than
// twice the margin. It is zero for a token without expiry.
func (t *Transport) refreshAt(tok *Token, now time.Time) time.Time {
	if tok.Expiry.IsZero() {
		return time.Time{}
	}
	return tok.Expiry.Add(-min(t.margin(), tok.Expiry.Sub(now)/2))
}

// loadedRefreshAt is when to refresh a token loaded from the store, whose
// lifetime is unknown: the margin before its expiry; zero without expiry.
func (t *Transport) loadedRefreshAt(tok *Token) time.Time {
	if tok.Expiry.IsZero() {
		return time.Time{}
	}
	return tok.Expiry.Add(-t.margin())
}

// orFallback returns fallback, if there is one, to be used until the
// failure f may be retried (or it expires); otherwise f's error.
func (t *Transport) orFallback(fallback *Token, f *failure) (*current, error) {
	// A caller may have reported the fallback rejected meanwhile.
	fallback = t.usableFallback(fallback, time.Now())
	if fallback != nil {
		until := f.until
		if !fallback.Expiry.IsZero() && (until.IsZero() || fallback.Expiry.Before(until)) {
			until = fallback.Expiry
		}
		return t.publish(fallback, until)
	}
	return nil, f.err
}

// publish makes tok the token attached to requests until refreshAt (zero:
// until it is rejected), unless a resource server has rejected it.
func (t *Transport) publish(tok *Token, refreshAt time.Time) (*current, error) {
	c := &current{tok: tok, auth: tok.Type() + " " + tok.AccessToken, refreshAt: refreshAt}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.isRejectedLocked(tok) {
		return nil, errRejectedMeanwhile()
	}
	t.cur.Store(c)
	return c, nil
}

// recentStoreFailure returns the last failure to lock or load the store
// for base if it may not be retried yet.
func (t *Transport) recentStoreFailure(base *Token, now time.Time) *failure {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.storeFail.pending(base, now)
}

// recentFailure returns the last failed refresh of base if it may not be
// retried yet.
func (t *Transport) recentFailure(base *Token, now time.Time) *failure {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failure.pending(base, now)
}

// pending returns f if it is a failure for base that may not be retried
// yet at now, and nil otherwise (also for a nil f).
func (f *failure) pending(base *Token, now time.Time) *failure {
	if f == nil || !sameToken(f.base, base) || !now.Before(f.until) {
		return nil
	}
	return f
}

// recordFailure classifies err and remembers it; the failure's err is what
// callers get: a *LoginRequiredError or a *RefreshError.
func (t *Transport) recordFailure(base *Token, err error, now time.Time) *failure {
	err = refreshError(err)
	var lr *LoginRequiredError
	var re *RefreshError
	if !errors.As(err, &lr) && errors.As(err, &re) && re.Terminal {
		err = &LoginRequiredError{Reason: ReasonRefreshRejected, Err: err}
	}
	f := &failure{base: base, err: err, terminal: errors.Is(err, ErrLoginRequired)}
	t.mu.Lock()
	defer t.mu.Unlock()
	if f.terminal {
		f.until = now.Add(terminalBackoff)
	} else {
		f.count = 1
		if p := t.failure; p != nil && !p.terminal && sameToken(p.base, base) {
			f.count = p.count + 1
		}
		wait := backoff(f.count)
		if re != nil {
			wait = max(wait, re.RetryAfter)
		}
		f.until = now.Add(wait)
	}
	t.failure = f
	return f
}

func (t *Transport) recordSuccess() {
	t.mu.Lock()
	t.failure = nil
	t.mu.Unlock()
}

package authtransport

import (
	"context"
	"fmt"
	"time"
)

// maxLoginTime bounds a login flight: the user has that long to log in.
const maxLoginTime = 15 * time.Minute

// loginNeed is what a flight's login starts from: the token a login
// replaces and why one is needed.
type loginNeed struct {
	base *Token
	why  *LoginRequiredError
}

// loginNeed returns what a login needs, from why (the refresh's login
// error) and what the resource server said when a rejection started f.
func (t *Transport) loginNeed(f *flight, base *Token, why *LoginRequiredError) *loginNeed {
	c := *why
	if f.why != nil {
		c.StatusCode, c.Challenge, c.Challenges = f.why.StatusCode, f.why.Challenge, f.why.Challenges
	}
	return &loginNeed{base: base, why: &c}
}

// loginReasonKey is the context key of LoginReason.
type loginReasonKey struct{}

// LoginReason returns, in a call of Transport.Login, why the login is
// needed: its Reason, and when a resource server's rejection led to it, the
// status and challenges (lr.Challenge.ResourceMetadata() is the RFC 9728
// metadata URL to discover the authorization server from). It returns nil
// outside such a call.
func LoginReason(ctx context.Context) *LoginRequiredError {
	lr, _ := ctx.Value(loginReasonKey{}).(*LoginRequiredError)
	return lr
}

// logIn is the login phase of f: it takes the store's login lock if it
// has one (one login for every process), adopts a token another process
// stored meanwhile, or calls Transport.Login, then saves and publishes the
// new token, or records the failure. Its waiters wait on, bounded only by
// their own contexts.
func (t *Transport) logIn(detached context.Context, f *flight, need *loginNeed) {
	f.login.Store(true)
	ctx, cancel := context.WithTimeout(detached, maxLoginTime)
	defer cancel()
	store := t.store()
	if ll, ok := store.(LoginLocker); ok {
		unlock, err := t.lockLogin(ctx, ll)
		if err != nil {
			t.loginFailed(f, need, err)
			return
		}
		defer unlock()
		// Another process may have logged in while this one waited.
		if stored, _, err := t.load(ctx, store); err == nil && stored != nil {
			if j := t.judgeLoaded(flightCheck, stored, true); j.outcome == outcomeAdopt && !sameToken(stored, need.base) {
				t.adopt(f, stored)
				return
			}
		}
	}
	if f.loggedOut.Load() {
		return
	}
	t.emit(ctx, Event{Kind: EventLoginStarted, Reason: need.why.Reason, Status: need.why.StatusCode})
	start := time.Now()
	tok, err := t.callLogin(context.WithValue(t.tokenContext(ctx), loginReasonKey{}, need.why))
	now := time.Now()
	if err == nil {
		tok, err = t.checkRefreshed(tok, now)
	}
	if err != nil {
		t.loginFailed(f, need, scrubError(err, t.secretsOf(need.base, tok)))
		return
	}
	// Save under the store's lock, as a refresh does; a token obtained
	// is kept even if the lock cannot be had.
	if ls, ok := store.(LockingStore); ok {
		if unlock, err := t.lock(ctx, ls); err == nil {
			defer unlock()
		}
	}
	t.install(ctx, f, store, need.base, tok, now, Event{Kind: EventLoginSucceeded, Duration: now.Sub(start)})
}

// loginFailed records a login that failed with err: its waiters get a
// *LoginRequiredError whose Err says so, and the next login waits for a
// transient backoff, so that a user who closed the browser can try again
// soon but a loop of requests does not open one login after another.
func (t *Transport) loginFailed(f *flight, need *loginNeed, err error) {
	lr := *need.why
	lr.Err = fmt.Errorf("login failed: %w", err)
	t.failedAs(f, need.base, &lr, false, &Event{Kind: EventLoginFailed, Reason: lr.Reason, Err: &lr})
}

// callLogin calls Transport.Login.
func (t *Transport) callLogin(ctx context.Context) (tok *Token, err error) {
	defer func() {
		if v := recover(); v != nil {
			tok, err = nil, panicError("Transport.Login", v)
		}
	}()
	return t.Login(ctx)
}

// lockLogin takes the store's login lock.
func (t *Transport) lockLogin(ctx context.Context, ll LoginLocker) (unlock func(), err error) {
	return safeLock(ctx, "LoginLocker.LockLogin", "lock token store for login", ll.LockLogin)
}

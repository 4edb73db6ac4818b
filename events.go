package authtransport

import (
	"context"
	"log/slog"
	"strconv"
	"time"
)

// Event is something a [Transport] did or saw: a refresh, a rejection, a
// resend, a request sent without credentials. Events are for metrics and
// logs; they never carry a credential. See [Transport.OnEvent].
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Duration is how long the refresh or login took, for
	// EventRefreshSucceeded, EventRefreshFailed and EventLoginSucceeded.
	Duration time.Duration
	// Status is the resource server's status code, for
	// EventRequestRejected, EventRefreshLimited, EventResendSkipped,
	// EventLoginRequired and EventLoginStarted (0 when no response was
	// involved).
	Status int
	// Reason is why a login is required, for EventLoginRequired and the
	// login events.
	Reason Reason
	// Detail is a short text whose values are listed with each kind: the
	// challenge that rejected a request ("Bearer invalid_token"), why a
	// request went without credentials, why a request was resent, whether
	// a failure is terminal or transient.
	Detail string
	// Err is the failure, for EventRefreshFailed, EventStoreFailed,
	// EventSaveFailed and EventLoginFailed.
	Err error
}

// EventKind says what an [Event] reports.
type EventKind int

// The kinds of [Event].
const (
	// EventRefreshStarted: the Refresher was called.
	EventRefreshStarted EventKind = iota + 1
	// EventRefreshSucceeded: it returned a usable token.
	EventRefreshSucceeded
	// EventRefreshFailed: it failed; Detail is "terminal" (not retried
	// for a while: a login or a configuration change is needed) or
	// "transient" (retried after a backoff).
	EventRefreshFailed
	// EventTokenAdopted: a usable token was taken from the Store (on
	// first use, or one that another Transport, process or login stored)
	// instead of refreshing.
	EventTokenAdopted
	// EventStoreFailed: the Store could not be locked or read.
	EventStoreFailed
	// EventSaveFailed: a refreshed token could not be saved; it lives
	// only in this process until a later save succeeds.
	EventSaveFailed
	// EventRequestRejected: a resource server answered 401 or 403 with
	// the token; Detail is the deciding challenge's scheme and error code.
	EventRequestRejected
	// EventRefreshLimited: a rejection would have refreshed the token,
	// but refreshes that rejections ask for are spaced (see
	// docs/DESIGN.md): the response was returned as it is.
	EventRefreshLimited
	// EventResent: the request was sent again; Detail is "refreshed" (with
	// a new token) or "dpop-nonce" (with the nonce the server asked for).
	EventResent
	// EventResendSkipped: the request could not be sent again because its
	// body cannot be replayed ([ErrBodyNotReplayable]).
	EventResendSkipped
	// EventNoCredentials: the request went out without credentials;
	// Detail is "plain-http" (http:// to a host that is not loopback),
	// "other-origin" (not one of the token's origins, a redirect
	// included) or "own-authorization" (the request had its own).
	EventNoCredentials
	// EventLoginRequired: a request ended in a [*LoginRequiredError].
	EventLoginRequired
	// EventLoginStarted: Transport.Login was called; Reason says why.
	EventLoginStarted
	// EventLoginSucceeded: it returned a usable token.
	EventLoginSucceeded
	// EventLoginFailed: it failed or was cancelled.
	EventLoginFailed
)

var eventKindText = [...]string{
	EventRefreshStarted:   "refresh started",
	EventRefreshSucceeded: "refresh succeeded",
	EventRefreshFailed:    "refresh failed",
	EventTokenAdopted:     "token adopted from store",
	EventStoreFailed:      "token store failed",
	EventSaveFailed:       "saving refreshed token failed; it lives only in this process",
	EventRequestRejected:  "request rejected",
	EventRefreshLimited:   "refresh limited: returning the response as it is",
	EventResent:           "request resent",
	EventResendSkipped:    "request not resent: body cannot be replayed",
	EventNoCredentials:    "request sent without credentials",
	EventLoginRequired:    "login required",
	EventLoginStarted:     "login started",
	EventLoginSucceeded:   "login succeeded",
	EventLoginFailed:      "login failed",
}

// String returns a short description of k.
func (k EventKind) String() string {
	if k > 0 && int(k) < len(eventKindText) {
		return eventKindText[k]
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// level is the slog level of the record an event of kind k makes.
func (k EventKind) level() slog.Level {
	switch k {
	case EventNoCredentials:
		return slog.LevelDebug
	case EventRefreshFailed, EventStoreFailed, EventRefreshLimited, EventResendSkipped, EventLoginRequired, EventLoginFailed:
		return slog.LevelWarn
	case EventSaveFailed:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// emit reports ev to OnEvent and to Logger. A panic of either (a handler's
// Enabled included) is recovered: it must not end the request, nor the
// process when ev comes from a flight.
func (t *Transport) emit(ctx context.Context, ev Event) {
	if t.OnEvent != nil {
		func() {
			defer func() { _ = recover() }()
			t.OnEvent(ev)
		}()
	}
	if t.Logger != nil {
		func() {
			defer func() { _ = recover() }()
			if level := ev.Kind.level(); t.Logger.Enabled(ctx, level) {
				t.Logger.LogAttrs(ctx, level, "authtransport: "+ev.Kind.String(), ev.attrs()...)
			}
		}()
	}
}

// observed reports whether anyone receives events.
func (t *Transport) observed() bool { return t.OnEvent != nil || t.Logger != nil }

// attrs returns ev's fields that are set, as log attributes.
func (ev Event) attrs() []slog.Attr {
	var a []slog.Attr
	if ev.Status != 0 {
		a = append(a, slog.Int("status", ev.Status))
	}
	if ev.Reason != 0 {
		a = append(a, slog.String("reason", ev.Reason.String()))
	}
	if ev.Detail != "" {
		a = append(a, slog.String("detail", ev.Detail))
	}
	if ev.Duration != 0 {
		a = append(a, slog.Duration("duration", ev.Duration))
	}
	if ev.Err != nil {
		a = append(a, slog.String("error", ev.Err.Error()))
	}
	return a
}

package authtransport

import (
	"math/rand/v2"
	"time"
)

// schedule is how long to hold off after the nth event of a run (a failed
// refresh, a failed store, a refresh caused by a rejection). docs/DESIGN.md
// explains each.
type schedule int

const (
	// transientSchedule spaces the retries of a refresh or a store that
	// failed for now: 1 s doubling to 1 min, ±20% jitter.
	transientSchedule schedule = iota
	// terminalSchedule holds off a refresh the token endpoint refused for
	// good: 5 min, every time.
	terminalSchedule
	// earlySchedule spaces the refreshes that resource servers'
	// rejections ask for, whatever their outcome: earlyBurst at once,
	// then 1 s, doubling to 1 min, ±20% jitter.
	earlySchedule
)

// Backoff figures shared by the schedules.
const (
	backoffFirst    = time.Second
	backoffLimit    = time.Minute
	terminalBackoff = 5 * time.Minute
	// earlyBurst is how many refreshes in a run that rejections ask for
	// start at once, before the spacing.
	earlyBurst = 3
	// maxRetryAfter bounds how long a server's Retry-After can hold the
	// Transport off.
	maxRetryAfter = 10 * time.Minute
)

// wait returns the hold-off after the nth event of a run (n ≥ 1): first,
// doubling per event up to the limit, with ±20% jitter so that processes
// sharing a store or a grant do not retry in step.
func (s schedule) wait(n int) time.Duration {
	switch {
	case s == terminalSchedule:
		return terminalBackoff
	case s == earlySchedule && n < earlyBurst:
		return 0
	case s == earlySchedule:
		n -= earlyBurst - 1
	}
	d := min(backoffFirst<<min(max(n, 1)-1, 10), backoffLimit)
	return d + time.Duration(rand.Int64N(int64(d)*2/5+1)) - d/5
}

// backoff is a run of events (failures, or refreshes caused by rejections)
// and when the next attempt may start. Its zero value is no run. A run ends
// once twice the longest wait (2 min) has passed without a new event: an
// occasional event starts a new run, while events that keep coming, however
// sparse, keep doubling the wait.
type backoff struct {
	n     int       // events in the run
	at    time.Time // the last event
	until time.Time // no new attempt before then
}

// pending reports whether an attempt must still wait at now.
func (b backoff) pending(now time.Time) bool { return now.Before(b.until) }

// over reports whether the run has ended at now: there is none, or it has
// been quiet for long enough.
func (b backoff) over(now time.Time) bool {
	return b.n == 0 || now.Sub(b.at) >= 2*backoffLimit
}

// next records an event at now and returns the new run: it holds off the
// schedule's wait for the run's length, and at least floor.
func (b backoff) next(now time.Time, s schedule, floor time.Duration) backoff {
	n := b.n + 1
	if b.over(now) {
		n = 1
	}
	wait := max(s.wait(n), min(floor, maxRetryAfter))
	return backoff{n: n, at: now, until: now.Add(wait)}
}

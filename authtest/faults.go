package authtest

import (
	"net"
	"net/http"
	"strconv"
	"time"
)

// FaultKind is the kind of a [Fault].
type FaultKind int

// Kinds of faults the token endpoint can inject.
const (
	// FaultStatus answers with [Fault.Status] (503 if zero) and a short
	// text body.
	FaultStatus FaultKind = iota + 1
	// FaultRateLimit answers 429 with a Retry-After header of
	// [Fault.RetryAfter] in whole seconds (1 if zero).
	FaultRateLimit
	// FaultGarbage answers 200 with a body that is not JSON.
	FaultGarbage
	// FaultDelay waits [Fault.Delay] and then answers normally.
	FaultDelay
	// FaultReset resets the TCP connection without answering.
	FaultReset
	// FaultOAuthError answers with an RFC 6749 §5.2 JSON error whose code
	// is [Fault.Code] (server_error if empty) and status [Fault.Status]
	// (400 if zero), whatever the request.
	FaultOAuthError
)

// Fault describes how the token endpoint misbehaves for one request.
type Fault struct {
	// Kind selects the misbehaviour.
	Kind FaultKind
	// Status is the status code of a FaultStatus; zero means 503.
	Status int
	// RetryAfter is the Retry-After of a FaultRateLimit, rounded up to
	// whole seconds; zero means one second.
	RetryAfter time.Duration
	// Delay is the wait of a FaultDelay.
	Delay time.Duration
	// Code is the error code of a FaultOAuthError.
	Code string
}

// faultState is an endpoint's fault schedule, guarded by Server.mu.
type faultState struct {
	queue    []Fault // the next len(queue) requests, in order
	fraction float64
	acc      float64
	frac     Fault
}

// FailTokenRequests makes the next n token endpoint requests fail with f.
// Calls queue up: FailTokenRequests(1, a) then FailTokenRequests(2, b) fails
// the next request with a and the two after it with b. Queued faults take
// precedence over a fraction set with [Server.FailTokenRequestFraction].
func (s *Server) FailTokenRequests(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults.queue = append(s.faults.queue, f)
	}
}

// FailTokenRequestFraction makes a fraction p (0 to 1) of the token endpoint
// requests fail with f, until changed. The choice is deterministic: a
// request fails each time the running sum of p reaches a whole number, so
// p = 0.25 fails every fourth request. p <= 0 turns it off.
func (s *Server) FailTokenRequestFraction(p float64, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.fraction = min(p, 1)
	s.faults.acc = 0
	s.faults.frac = f
}

// ClearTokenFaults cancels every queued fault and the fraction.
func (s *Server) ClearTokenFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = faultState{}
}

// FailDeviceAuthorizations makes the next n requests to the device
// authorization endpoint fail with f, as [Server.FailTokenRequests] does
// for the token endpoint. Such requests count in no [Stats] field.
func (s *Server) FailDeviceAuthorizations(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.device.faults.queue = append(s.device.faults.queue, f)
	}
}

// next returns the fault for the current request, if any. Server.mu must
// be held.
func (fs *faultState) next() (Fault, bool) {
	if len(fs.queue) > 0 {
		f := fs.queue[0]
		fs.queue = fs.queue[1:]
		return f, true
	}
	if fs.fraction > 0 {
		fs.acc += fs.fraction
		if fs.acc >= 1-1e-9 {
			fs.acc--
			return fs.frac, true
		}
	}
	return Fault{}, false
}

// applyFault carries out f and calls count with the request's outcome
// before it answers. It reports whether the request was answered (or
// dropped); for a delay that ran to its end it returns false without
// counting, so the request proceeds.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault, count func(outcome string)) bool {
	outcome := faultOutcome(f.Kind)
	if f.Kind == FaultDelay {
		if s.wait(r, f.Delay) {
			return false
		}
		outcome = OutcomeCanceled
	}
	// Count first: once answered, the client may read the stats at once.
	count(outcome)
	switch f.Kind {
	case FaultDelay:
		panic(http.ErrAbortHandler) // drop the connection without an answer
	case FaultRateLimit:
		secs := int((f.RetryAfter + time.Second - 1) / time.Second)
		if secs <= 0 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		http.Error(w, "authtest: rate limited", http.StatusTooManyRequests)
	case FaultGarbage:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("<html>this is not the JSON you are looking for"))
	case FaultReset:
		resetConn(w)
	case FaultOAuthError:
		oerr := &oauthError{status: f.Status, code: f.Code, description: "injected by the test"}
		if oerr.code == "" {
			oerr.code = "server_error"
		}
		writeOAuthError(w, oerr)
	default: // FaultStatus and unknown kinds
		status := f.Status
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
		http.Error(w, "authtest: injected failure", status)
	}
	return true
}

func faultOutcome(k FaultKind) string {
	switch k {
	case FaultRateLimit:
		return OutcomeFaultRateLimit
	case FaultGarbage:
		return OutcomeFaultGarbage
	case FaultReset:
		return OutcomeFaultReset
	case FaultOAuthError:
		return OutcomeFaultOAuthError
	case FaultDelay:
		return OutcomeOK // not counted: the request goes on
	}
	return OutcomeFaultStatus
}

// resetConn hijacks the connection and closes it with SO_LINGER 0, which
// sends a TCP RST instead of an orderly close.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

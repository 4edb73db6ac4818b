// Package otelauth records the events of an [authtransport.Transport] as
// OpenTelemetry metrics.
//
//	onEvent, err := otelauth.Events(meterProvider)
//	if err != nil {
//		return err
//	}
//	tr := &authtransport.Transport{Store: store, Refresher: refresher, OnEvent: onEvent}
//
// [Events] creates the instruments once, with a meter named
// "github.com/d5c4ca72/authtransport/otelauth" from the
// [metric.MeterProvider] it is given, or from the global one
// ([otel.GetMeterProvider]) when that is nil, and returns the function to
// set as [authtransport.Transport.OnEvent]. To receive the events as well,
// call it from a function of your own:
//
//	tr.OnEvent = func(ev authtransport.Event) {
//		onEvent(ev)
//		myHook(ev)
//	}
//
// # Metrics
//
// Every instrument is a monotonic Int64Counter except the duration
// histogram. Attributes are listed with the values they take.
//
//	authtransport.refresh.started         {refresh}  the Refresher was called
//	authtransport.refresh.completed       {refresh}  it returned
//	  authtransport.refresh.outcome                  "succeeded", "failed"
//	  error.type                                     "terminal", "transient" (failed only)
//	authtransport.refresh.duration        s          how long it took (Float64Histogram,
//	                                                 buckets from 10 ms to 60 s)
//	  the attributes of refresh.completed
//	authtransport.refresh.limited         {request}  a rejection got its response as it
//	                                                 is: the refreshes rejections ask
//	                                                 for are spaced
//	  http.response.status_code                      401, 403
//	authtransport.token.adopted           {token}    a token another Transport, process
//	                                                 or login stored was used
//	authtransport.store.errors            {error}    the Store failed
//	  authtransport.store.operation                  "load" (locking or reading), "save"
//	authtransport.request.rejected        {request}  a resource server answered 401 or 403
//	  http.response.status_code                      401, 403
//	  authtransport.challenge                        "Bearer invalid_token", "Bearer",
//	                                                 "DPoP use_dpop_nonce", "no challenge", ...
//	authtransport.request.resent          {request}  the request was sent again
//	  authtransport.resend.reason                    "refreshed", "dpop-nonce", "scheme"
//	authtransport.request.resend_skipped  {request}  it could not be: its body cannot
//	                                                 be replayed
//	authtransport.request.no_credentials  {request}  it went out without credentials
//	  authtransport.no_credentials.reason            "plain-http", "other-origin",
//	                                                 "own-authorization"
//	authtransport.login.required          {request}  a request ended in a *LoginRequiredError
//	  authtransport.login.reason                     Reason.String(): "no token", ...
//	authtransport.login.completed         {login}    an interactive login (Transport.Login)
//	  authtransport.login.outcome                    "succeeded", "failed"
//	authtransport.event.other             {event}    an event of a kind added later
//	  authtransport.event.kind                       EventKind.String()
//
// The count of authtransport.refresh.duration equals
// authtransport.refresh.completed; the counter is there for backends that
// keep counters longer or cheaper than histograms.
//
// # Cardinality
//
// Attribute values come only from the bounded fields of an
// [authtransport.Event]: its Kind, Status, Reason (by its String method) and
// Detail, whose values the Transport defines. Event.Err is never read: its
// text is unbounded, and redacting it is the Transport's job, not a metric
// backend's. The one Detail a server shapes, the challenge of a rejection,
// is reduced to a known set: the schemes Bearer and DPoP (in any case) and
// the error codes of RFC 6750, RFC 9449 and RFC 9470 keep their names, and
// any other scheme or code becomes "_OTHER" ("Bearer _OTHER", "_OTHER"), as
// the OpenTelemetry semantic conventions do for values outside a known set.
//
// The attributes given to [Events] are added to every measurement, to tell
// apart the Transports of one process (one per API or tenant, say). They
// should be constants, not request data.
//
// # Cost and concurrency
//
// A Transport calls OnEvent synchronously on the goroutine of the request or
// refresh it reports. The function [Events] returns is safe for concurrent
// use, takes no lock of its own and, for every value the Transport sends,
// uses attribute sets built in advance, so that it allocates nothing beyond
// what the SDK does. Measurements are made with [context.Background]: an
// Event carries no context, so exemplars are not linked to spans.
package otelauth

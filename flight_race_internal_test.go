package authtransport

import (
	"context"
	"sync"
	"testing"
	"time"
)

// A rejected caller racing a flight that adopts the same token: the
// rejected token must neither stay published nor be handed back.
func TestMarkRacesAdoptPublish(t *testing.T) {
	bad, badCur := 0, 0
	const trials = 2000
	for range trials {
		x := &Token{AccessToken: "x", RefreshToken: "rtx", Expiry: time.Now().Add(time.Hour)}
		s := &Token{AccessToken: "s", RefreshToken: "rts", Expiry: time.Now().Add(time.Hour)}
		tr := &Transport{Store: NewMemoryStore(x)}
		c1, err := tr.publish(x, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		var got *current
		wg.Go(func() { <-start; _, _ = tr.join(context.Background(), s, true) }) // late 401 for s: adopts x
		wg.Go(func() { <-start; got, _ = tr.refresh(context.Background(), c1, true) })
		close(start)
		wg.Wait()
		if c := tr.cur.Load(); c != nil && sameToken(c.tok, x) {
			bad++
			badCur++
		} else if got != nil && sameToken(got.tok, x) {
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("rejected x left published (%d) or handed back in %d/%d trials", badCur, bad, trials)
	}
}

package authtransport

import (
	"context"
	"sync"
	"testing"
	"time"
)

type slowLoadStore struct {
	MemoryStore
	delay time.Duration
}

func (s *slowLoadStore) Load(ctx context.Context) (*Token, error) {
	time.Sleep(s.delay)
	return s.MemoryStore.Load(ctx)
}

// A caller rejected with X whose flight races refresh-ahead flights that
// fall back to X never gets X itself back from refresh(X, rejected=true).
func TestRejoinCanReturnRejectedToken(t *testing.T) {
	bad := 0
	const trials = 200
	for range trials {
		x := &Token{AccessToken: "x", RefreshToken: "rt", Expiry: time.Now().Add(time.Hour)}
		gate := make(chan struct{})
		called := make(chan struct{}, 8)
		tr := &Transport{
			Store: &slowLoadStore{MemoryStore: *NewMemoryStore(x), delay: time.Millisecond},
			Refresher: RefresherFunc(func(ctx context.Context, _ *Token) (*Token, error) {
				called <- struct{}{}
				<-gate
				return nil, &RefreshError{StatusCode: 503}
			}),
		}
		cur, err := tr.usable(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() { // C: refresh-ahead twice in a row
			_, _ = tr.join(context.Background(), x, false)
			_, _ = tr.join(context.Background(), x, false)
		})
		<-called
		var got *current
		wg.Go(func() { got, _ = tr.refresh(context.Background(), cur, true) })
		time.Sleep(2 * time.Millisecond) // B has joined F1
		close(gate)
		wg.Wait()
		if got != nil && sameToken(got.tok, x) {
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("refresh(x, rejected=true) returned x itself in %d/%d trials", bad, trials)
	}
}

package authtransport_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
)

var _ authtransport.LockingStore = (*authtransport.MemoryStore)(nil)

func TestMemoryStore(t *testing.T) {
	ctx := context.Background()
	var s authtransport.MemoryStore // the zero value is ready to use
	_, err := s.Load(ctx)
	require.ErrorIs(t, err, authtransport.ErrNoToken)

	tok := valid("a")
	require.NoError(t, s.Save(ctx, tok))
	got, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Same(t, tok, got)

	require.NoError(t, s.Save(ctx, nil))
	_, err = s.Load(ctx)
	assert.ErrorIs(t, err, authtransport.ErrNoToken, "Save(nil) empties the store")
}

func TestMemoryStoreLock(t *testing.T) {
	s := authtransport.NewMemoryStore(nil)
	unlock, err := s.Lock(context.Background())
	require.NoError(t, err)

	// A second holder waits, and gives up with its context.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = s.Lock(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	unlock()
	unlock2, err := s.Lock(context.Background())
	require.NoError(t, err, "free again after unlock")
	unlock2()

	// Mutual exclusion under contention.
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			unlock, err := s.Lock(context.Background())
			if !assert.NoError(t, err) {
				return
			}
			n := inside.Add(1)
			if n > most.Load() {
				most.Store(n)
			}
			time.Sleep(time.Millisecond)
			inside.Add(-1)
			unlock()
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), most.Load(), "holders at once")
}

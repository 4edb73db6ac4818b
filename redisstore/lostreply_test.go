package redisstore_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport/redisstore"
)

// A command that Redis ran but whose reply was lost (a reset, a proxy
// restarting) is sent again, by go-redis or by the Transport's retry of a
// failed save. The scripts must take their own earlier run for what it is.

// replyDropper is a TCP proxy to a Redis server that, once armed, cuts the
// connection instead of passing on the next reply containing match: the
// command has run, the client never learns it.
type replyDropper struct {
	ln      net.Listener
	target  string
	match   []byte
	armed   atomic.Bool
	dropped atomic.Int32

	mu    sync.Mutex // guards conns
	conns []net.Conn
	wg    sync.WaitGroup
}

func newReplyDropper(t *testing.T, target, match string) *replyDropper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	d := &replyDropper{ln: ln, target: target, match: []byte(match)}
	d.wg.Add(1)
	go d.serve()
	t.Cleanup(func() {
		ln.Close()
		d.mu.Lock()
		for _, c := range d.conns {
			c.Close()
		}
		d.mu.Unlock()
		d.wg.Wait()
	})
	return d
}

func (d *replyDropper) serve() {
	defer d.wg.Done()
	for {
		client, err := d.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", d.target)
		if err != nil {
			client.Close()
			continue
		}
		d.mu.Lock()
		d.conns = append(d.conns, client, server)
		d.mu.Unlock()
		d.wg.Add(2)
		go func() {
			defer d.wg.Done()
			_, _ = io.Copy(server, client)
			server.Close()
		}()
		go func() {
			defer d.wg.Done()
			defer client.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := server.Read(buf)
				if n > 0 && d.armed.Load() && bytes.Contains(buf[:n], d.match) && d.armed.CompareAndSwap(true, false) {
					d.dropped.Add(1)
					server.Close()
					return
				}
				if n > 0 {
					if _, err := client.Write(buf[:n]); err != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// okReply is the RESP2 reply {1, ...} of the save and lock scripts.
const okReply = "*2\r\n:1\r\n"

func TestLockTakenWhoseReplyWasLostIsHeld(t *testing.T) {
	r := needRedis(t)
	d := newReplyDropper(t, r.Addr, okReply)
	key := newKey(t)
	s := &redisstore.Store{Client: newClient(t, d.ln.Addr().String(), &redis.Options{Protocol: 2}), Key: key, LockTTL: time.Hour}
	d.armed.Store(true)
	// Were the resent script to find the lock "taken by someone", Lock
	// would wait out the hour-long TTL; the deadline says it did not.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	unlock, err := s.Lock(ctx)
	require.NoError(t, err, "the lock the first run took is this Store's")
	require.EqualValues(t, 1, d.dropped.Load(), "the reply was lost")
	unlock()
	direct := newClient(t, r.Addr, nil)
	assert.Zero(t, direct.Exists(t.Context(), lockKey(key)).Val(), "unlock released it")
}

func TestSaveWhoseReplyWasLostIsNoConflict(t *testing.T) {
	tests := []struct {
		name    string
		retries int // go-redis's MaxRetries
		save    func(t *testing.T, s *redisstore.Store, ctx context.Context) error
	}{
		{"go-redis resends it", 0, func(t *testing.T, s *redisstore.Store, ctx context.Context) error {
			return s.Save(ctx, tokB)
		}},
		{"the caller saves again", -1, func(t *testing.T, s *redisstore.Store, ctx context.Context) error {
			require.Error(t, s.Save(ctx, tokB), "the first save lost its reply")
			return s.Save(ctx, tokB)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := needRedis(t)
			d := newReplyDropper(t, r.Addr, okReply)
			key := newKey(t)
			s := &redisstore.Store{Client: newClient(t, d.ln.Addr().String(), &redis.Options{Protocol: 2, MaxRetries: tt.retries}), Key: key}
			require.NoError(t, s.Save(t.Context(), testToken("a", time.Hour)))
			unlock, err := s.Lock(t.Context())
			require.NoError(t, err)
			defer unlock()
			d.armed.Store(true)
			require.NoError(t, tt.save(t, s, t.Context()), "a save of what it wrote is no conflict with itself")
			require.EqualValues(t, 1, d.dropped.Load(), "the reply was lost")
			got, err := s.Load(t.Context())
			require.NoError(t, err)
			assert.Equal(t, tokB.RefreshToken, got.RefreshToken)

			// Another writer's token is still a conflict.
			other := &redisstore.Store{Client: newClient(t, r.Addr, nil), Key: key}
			require.NoError(t, other.Save(t.Context(), testToken("c", time.Hour)))
			var ce *redisstore.ConflictError
			require.ErrorAs(t, s.Save(t.Context(), testToken("d", time.Hour)), &ce, "the holder's next save meets the other writer's token")
		})
	}
}

// tokB is the token the holder saves when the reply is lost.
var tokB = testToken("b", time.Hour)

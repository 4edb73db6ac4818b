package redisstore

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"

	"github.com/redis/go-redis/v9"

	"github.com/d5c4ca72/authtransport"
)

// What AllowUnlockedRefresh needs: the last state of Redis this Store saw,
// and a test for "Redis cannot be reached".

// remember records what Redis holds, for AllowUnlockedRefresh.
func (s *Store) remember(tok *authtransport.Token, version int64) {
	if !s.AllowUnlockedRefresh {
		return
	}
	s.mu.Lock()
	s.rememberLocked(tok, version)
	s.mu.Unlock()
}

func (s *Store) rememberLocked(tok *authtransport.Token, version int64) {
	if s.AllowUnlockedRefresh {
		s.last = &seen{tok: tok, version: version}
	}
}

// lastIfUnreachable returns what Redis last held when err, the failure of
// op, says that Redis cannot be reached and AllowUnlockedRefresh lets op go
// on without it; nil otherwise.
func (s *Store) lastIfUnreachable(ctx context.Context, err error, op string) *seen {
	if !s.AllowUnlockedRefresh || !unreachable(ctx, err) {
		return nil
	}
	s.mu.Lock()
	last := s.last
	s.mu.Unlock()
	if last == nil {
		return nil // nothing known to go on with
	}
	s.log("Redis unreachable: "+op+" goes on without it (AllowUnlockedRefresh)", slog.String("error", err.Error()))
	return last
}

// unreachable reports whether err, the failure of a Redis command made with
// ctx, means that Redis cannot be reached or cannot serve for now: a
// network error, a timeout, a closed connection, a pool timeout, or a
// server that is loading, failing over or without a master. The end of ctx
// itself is the caller's doing, not Redis's.
func unreachable(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, redis.ErrPoolTimeout) {
		return true
	}
	for _, prefix := range [...]string{"LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN"} {
		if redis.HasErrorPrefix(err, prefix) {
			return true
		}
	}
	return false
}

package login

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/d5c4ca72/authtransport"
)

// Save runs login, a flow's Login method such as [Browser.Login] or
// [Device.Login], and saves the token it returns in store, for a command
// such as "mycli login". It returns the saved token.
//
// A login that fails or is cancelled leaves the store untouched: Save
// returns its error as it is. The token is saved only once the login is
// over, under the store's lock when store is an [authtransport.LockingStore]
// (such as [github.com/d5c4ca72/authtransport/filestore.Store]): the lock is not held while the user signs
// in, so other processes go on refreshing meanwhile, and a refresh that
// one of them is running when the login ends finishes before the new token
// replaces the old one. A token whose ObtainedAt is zero gets the time the
// login returned.
func Save(ctx context.Context, store authtransport.Store, login func(ctx context.Context) (*authtransport.Token, error)) (*authtransport.Token, error) {
	if store == nil || login == nil {
		return nil, errors.New("login: Save needs a store and a login")
	}
	tok, err := login(ctx)
	if err != nil {
		return nil, err
	}
	if tok == nil || tok.AccessToken == "" {
		return nil, errors.New("login: the login returned no token")
	}
	if tok.ObtainedAt.IsZero() {
		c := *tok
		c.ObtainedAt = time.Now().Round(0)
		tok = &c
	}
	if ls, ok := store.(authtransport.LockingStore); ok {
		unlock, err := ls.Lock(ctx)
		if err != nil {
			return nil, fmt.Errorf("login: lock the token store: %w", err)
		}
		defer unlock()
	}
	if err := store.Save(ctx, tok); err != nil {
		return nil, fmt.Errorf("login: save the token: %w", err)
	}
	return tok, nil
}

//go:build unix

package filestore

import (
	"context"
	"net/http"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
)

// A FIFO (or any file that is not regular) at the token file's path is an
// AccessError at once, not a Load that blocks in open until a writer comes
// along, whatever its context says.
func TestFIFOAtPathIsAnError(t *testing.T) {
	s := newTestFileStore(t)
	require.NoError(t, syscall.Mkfifo(s.Path(), 0o600))
	done := make(chan error, 1)
	go func() {
		_, err := s.Load(context.Background())
		done <- err
	}()
	select {
	case err := <-done:
		var ae *AccessError
		require.ErrorAs(t, err, &ae)
		assert.Contains(t, err.Error(), "not a regular file")
		assert.NotErrorIs(t, err, authtransport.ErrNoToken)
	case <-time.After(10 * time.Second):
		// Unblock the open so that the goroutine ends.
		f, _ := os.OpenFile(s.Path(), os.O_WRONLY, 0)
		if f != nil {
			f.Close()
		}
		t.Fatal("Load blocked on a FIFO")
	}
}

// A Transport whose token file is replaced by a FIFO fails with a
// transient store error, and works again as soon as a token file is back:
// nothing is wedged.
func TestTransportRecoversFromFIFOAtPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestFileStore(t)
		require.NoError(t, syscall.Mkfifo(s.Path(), 0o600))
		tr := &authtransport.Transport{Base: roundTripOK{}, Store: s}
		req, err := http.NewRequest(http.MethodGet, "https://api.example/x", nil)
		require.NoError(t, err)
		_, err = tr.RoundTrip(req)
		var re *authtransport.RefreshError
		require.ErrorAs(t, err, &re, "a transient store failure")

		require.NoError(t, os.Remove(s.Path()))
		require.NoError(t, s.Save(context.Background(), &authtransport.Token{AccessToken: "good", Expiry: time.Now().Add(time.Hour)}))
		time.Sleep(2 * time.Second) // the store's backoff after one failure
		resp, err := tr.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})
}

// roundTripOK answers 200 to every request.
type roundTripOK struct{}

func (roundTripOK) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

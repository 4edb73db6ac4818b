package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestTour(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, tour(&out), "output:\n%s", out.String())
	assert.Contains(t, out.String(), "50 of 50 requests got 200; the token endpoint saw 1 refresh")
	assert.Contains(t, out.String(), "done: every scene went as described")
}

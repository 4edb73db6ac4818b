//go:build !unix && !windows

package filestore

import (
	"io/fs"
	"os"
)

// syncDir does nothing on platforms without a portable directory sync.
func syncDir(string) error { return nil }

// looseMode reports false on platforms without Unix permission bits.
func looseMode(fs.FileMode) bool { return false }

// openNoBlock opens name for reading.
func openNoBlock(name string) (*os.File, error) { return os.Open(name) }

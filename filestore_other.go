//go:build !unix && !windows

package authtransport

import "io/fs"

// syncDir does nothing on platforms without a portable directory sync.
func syncDir(string) error { return nil }

// looseMode reports false on platforms without Unix permission bits.
func looseMode(fs.FileMode) bool { return false }

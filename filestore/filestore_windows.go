package filestore

import (
	"io/fs"
	"os"
)

// syncDir does nothing on Windows, which cannot open a directory for
// syncing; NTFS journals the rename itself.
func syncDir(string) error { return nil }

// looseMode reports false on Windows, where the permission bits do not
// describe who may read a file (access is governed by ACLs).
func looseMode(fs.FileMode) bool { return false }

// openNoBlock opens name for reading. Windows has no FIFOs in the file
// system namespace.
func openNoBlock(name string) (*os.File, error) { return os.Open(name) }

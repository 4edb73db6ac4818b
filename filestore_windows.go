package authtransport

import "io/fs"

// syncDir does nothing on Windows, which cannot open a directory for
// syncing; NTFS journals the rename itself.
func syncDir(string) error { return nil }

// looseMode reports false on Windows, where the permission bits do not
// describe who may read a file (access is governed by ACLs).
func looseMode(fs.FileMode) bool { return false }

//go:build unix

package filestore

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// syncDir flushes the directory entry of a file just created, renamed or
// removed in dir. File systems that cannot sync a directory (EINVAL,
// ENOTSUP) are not an error: there is nothing more to do on them.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil
	}
	return err
}

// looseMode reports whether a token file's mode lets anyone but its owner
// read or write it.
func looseMode(mode fs.FileMode) bool {
	return mode.Perm()&0o077 != 0
}

// openNoBlock opens name for reading without blocking: opening a FIFO for
// reading would otherwise wait for a writer, forever, while the caller's
// context passes. Reads of a regular file are not affected by O_NONBLOCK;
// read checks that the file is one.
func openNoBlock(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

package filestore

import (
	"io/fs"
	"os"
	"syscall"
)

// syncDir does nothing on Windows, which cannot open a directory for
// syncing; NTFS journals the rename itself.
func syncDir(string) error { return nil }

// looseMode reports false on Windows, where the permission bits do not
// describe who may read a file (access is governed by ACLs).
func looseMode(fs.FileMode) bool { return false }

// openNoBlock opens name for reading. Windows has no FIFOs in the file
// system namespace. Unlike os.Open it shares delete access: a reader
// holding the file open must not make another process's Save fail, whose
// rename over the file needs that access.
func openNoBlock(name string) (*os.File, error) {
	p, err := syscall.UTF16PtrFromString(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	h, err := syscall.CreateFile(p, syscall.GENERIC_READ,
		syscall.FILE_SHARE_READ|syscall.FILE_SHARE_WRITE|syscall.FILE_SHARE_DELETE,
		nil, syscall.OPEN_EXISTING, syscall.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(h), name), nil
}

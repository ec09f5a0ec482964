//go:build unix

package latch

import (
	"os"
	"syscall"
)

// openKeyFile opens path for reading without blocking: a FIFO with no
// writer would otherwise block the open (and New, or a reload, with it)
// before the file could be found not regular.
func openKeyFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// ownedByRoot reports whether root owns the file fi describes.
func ownedByRoot(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == 0
}

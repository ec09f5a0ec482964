//go:build unix

package latch

import (
	"os"
	"syscall"
)

// ownedByRoot reports whether root owns the file fi describes.
func ownedByRoot(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == 0
}

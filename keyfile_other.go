//go:build !unix

package latch

import "os"

// ownedByRoot reports false: there is no root owner to recognise.
func ownedByRoot(os.FileInfo) bool { return false }

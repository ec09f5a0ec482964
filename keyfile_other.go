//go:build !unix

package latch

import "os"

// ownedByRoot reports false: there is no root owner to recognise.
func ownedByRoot(os.FileInfo) bool { return false }

// openKeyFile opens path for reading.
func openKeyFile(path string) (*os.File, error) { return os.Open(path) }

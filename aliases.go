package latch

import "github.com/latchsec/latch/driver"

// Transitional aliases while the stores move to package driver.
type (
	Hash         = driver.Hash
	Meta         = driver.Meta
	Record       = driver.Record
	Commit       = driver.Commit
	Info         = driver.Info
	Store        = driver.Store
	Stateless    = driver.Stateless
	Opened       = driver.Opened
	RenewedError = driver.RenewedError
)

const HashSize = driver.HashSize

var (
	ErrExists         = driver.ErrExists
	ErrRenewed        = driver.ErrRenewed
	ParseHash         = driver.ParseHash
	EncodeValue       = driver.EncodeValue
	DecodeValue       = driver.DecodeValue
	DecodeValueString = driver.DecodeValueString
)

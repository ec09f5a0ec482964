module github.com/latchsec/latch/reliability

go 1.26

require (
	github.com/latchsec/latch v0.0.0
	github.com/latchsec/latch/boltstore v0.0.0-00010101000000-000000000000
)

require (
	go.etcd.io/bbolt v1.4.3 // indirect
	golang.org/x/sys v0.29.0 // indirect
)

replace (
	github.com/latchsec/latch => ..
	github.com/latchsec/latch/boltstore => ../boltstore
	github.com/latchsec/latch/pgstore => ../pgstore
	github.com/latchsec/latch/redisstore => ../redisstore
)

module github.com/latchsec/latch/boltstore

go 1.26.0

require (
	github.com/latchsec/latch v0.0.0
	go.etcd.io/bbolt v1.4.3
)

require golang.org/x/sys v0.29.0 // indirect

replace github.com/latchsec/latch => ..

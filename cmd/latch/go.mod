module github.com/latchsec/latch/cmd/latch

go 1.26.0

require (
	github.com/latchsec/latch v0.0.0
	github.com/latchsec/latch/boltstore v0.0.0
	github.com/latchsec/latch/storeurl v0.0.0
	github.com/yuin/goldmark v1.8.7
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/pgx/v5 v5.12.0 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/latchsec/latch/pgstore v0.0.0 // indirect
	github.com/latchsec/latch/redisstore v0.0.0 // indirect
	github.com/redis/go-redis/v9 v9.23.0 // indirect
	go.etcd.io/bbolt v1.4.3 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)

replace (
	github.com/latchsec/latch => ../..
	github.com/latchsec/latch/boltstore => ../../boltstore
	github.com/latchsec/latch/pgstore => ../../pgstore
	github.com/latchsec/latch/redisstore => ../../redisstore
	github.com/latchsec/latch/storeurl => ../../storeurl
)

module github.com/latchsec/latch

go 1.26.0

module github.com/latchsec/latch/e2e

go 1.26.0

require github.com/latchsec/latch v0.0.0

replace github.com/latchsec/latch => ../

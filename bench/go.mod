module github.com/latchsec/latch/bench

go 1.26

require github.com/latchsec/latch v0.0.0

replace github.com/latchsec/latch => ..

package driver_test

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/latchsec/latch/driver"
)

// A store frames a record with fields of its own (here a tag byte before
// it and a checksum after it) and reads them all with one Reader.
func ExampleReader() {
	t := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	rec := &driver.Record{
		Meta: driver.Meta{UserID: "alice", Created: t, LastSeen: t, AuthTime: t,
			IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour},
		Values: map[string]any{"theme": "dark", "cart": 3},
	}
	b, err := driver.AppendRecord([]byte{'S'}, rec)
	if err != nil {
		fmt.Println(err)
		return
	}
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	fmt.Println(len(b), "bytes")

	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		fmt.Println("checksum mismatch")
		return
	}
	r := driver.NewReader(string(body))
	tag := r.Byte()
	got := r.Record()
	if err := r.End(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%c %s %v %v %v\n", tag, got.UserID, got.IdleTimeout, got.Values["theme"], got.Values["cart"])
	// Output:
	// 53 bytes
	// S alice 30m0s dark 3
}

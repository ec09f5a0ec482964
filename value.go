package latch

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// EncodeValue serialises one session value for a store that keeps bytes.
// Values are encoded as JSON, each on its own, so that a store can apply a
// Commit key by key.
func EncodeValue(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("latch: encode session value: %w", err)
	}
	return b, nil
}

// DecodeValue is the inverse of EncodeValue. Numbers decode as json.Number so
// that integers keep their precision; the Session's typed getters accept it.
func DecodeValue(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("latch: decode session value: %w", err)
	}
	return v, nil
}

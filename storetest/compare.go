package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strings"
)

// valuesDiff describes how the values got differ from want, or returns "".
// An empty and a nil map are equal. Values are compared by meaning: both
// sides go through JSON (the encoding driver.EncodeValue uses), numbers are
// compared exactly as decimals, so int64(7), float64(7) and json.Number("7")
// are equal while a float64 that lost the precision of a big integer is not.
func valuesDiff(got, want map[string]any) string {
	var d []string
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			d = append(d, fmt.Sprintf("key %q: missing, want %s", k, show(w)))
			continue
		}
		if eq, err := sameValue(g, w); err != nil {
			d = append(d, fmt.Sprintf("key %q: %v", k, err))
		} else if !eq {
			d = append(d, fmt.Sprintf("key %q: got %s (%T), want %s (%T)", k, show(g), g, show(w), w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			d = append(d, fmt.Sprintf("key %q: got %s, want no such key", k, show(g)))
		}
	}
	sort.Strings(d)
	return strings.Join(d, "; ")
}

// show renders a value for a failure message.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

// sameValue reports whether a and b mean the same JSON value.
func sameValue(a, b any) (bool, error) {
	na, err := normalise(a)
	if err != nil {
		return false, fmt.Errorf("got value not encodable as JSON: %w", err)
	}
	nb, err := normalise(b)
	if err != nil {
		return false, fmt.Errorf("want value not encodable as JSON: %w", err)
	}
	return jsonEqual(na, nb), nil
}

// normalise turns v into the generic form json.Decoder produces with
// UseNumber: nil, bool, string, json.Number, []any and map[string]any.
func normalise(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

func jsonEqual(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case bool:
		bb, ok := b.(bool)
		return ok && a == bb
	case string:
		bs, ok := b.(string)
		return ok && a == bs
	case json.Number:
		bn, ok := b.(json.Number)
		if !ok {
			return false
		}
		ra, oka := new(big.Rat).SetString(string(a))
		rb, okb := new(big.Rat).SetString(string(bn))
		return oka && okb && ra.Cmp(rb) == 0
	case []any:
		bs, ok := b.([]any)
		if !ok || len(a) != len(bs) {
			return false
		}
		for i := range a {
			if !jsonEqual(a[i], bs[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, av := range a {
			bv, ok := bm[k]
			if !ok || !jsonEqual(av, bv) {
				return false
			}
		}
		return true
	}
	return false
}

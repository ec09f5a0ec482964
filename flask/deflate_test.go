package flask

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"testing"
)

// splitMix is the generator testdata/gen_vectors.py uses for zlib inputs.
type splitMix uint64

func (s *splitMix) next() uint64 {
	*s += 0x9E3779B97F4A7C15
	z := uint64(*s)
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// zlibInput mirrors zlib_input in gen_vectors.py: literals from an alphabet
// mixed with copies of earlier output at many distances and lengths.
func zlibInput(seed uint64, size, alphabet int) []byte {
	r := splitMix(seed)
	out := make([]byte, 0, size+300)
	for len(out) < size {
		x := r.next()
		if len(out) > 0 && x%4 == 0 {
			dist := 1 + int((x>>8)%uint64(min(len(out), 40000)))
			n := 1 + int((x>>32)%300)
			start := len(out) - dist
			for i := 0; i < n; i++ {
				out = append(out, out[start+i])
			}
			continue
		}
		b := byte((x>>16)%uint64(alphabet)) + 32
		if alphabet == 256 {
			b = byte((x >> 16) % 256)
		}
		out = append(out, b)
	}
	return out[:size]
}

func TestZlibCompressMatchesCZlib(t *testing.T) {
	raw, err := os.ReadFile("testdata/zlib.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []struct {
			Seed     uint64 `json:"seed"`
			Size     int    `json:"size"`
			Alphabet int    `json:"alphabet"`
			Len      int    `json:"len"`
			SHA256   string `json:"sha256"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) < 10 {
		t.Fatalf("only %d zlib cases", len(file.Cases))
	}
	for _, c := range file.Cases {
		t.Run(fmt.Sprintf("seed%d_size%d_alpha%d", c.Seed, c.Size, c.Alphabet), func(t *testing.T) {
			in := zlibInput(c.Seed, c.Size, c.Alphabet)
			got := zlibCompress(in)
			sum := sha256.Sum256(got)
			if len(got) != c.Len || hex.EncodeToString(sum[:]) != c.SHA256 {
				t.Errorf("zlibCompress: len %d sha256 %x; want len %d sha256 %s", len(got), sum, c.Len, c.SHA256)
			}
			r, err := zlib.NewReader(bytes.NewReader(got))
			if err != nil {
				t.Fatal(err)
			}
			back, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(back, in) {
				t.Fatalf("round trip failed: %v", err)
			}
		})
	}
}

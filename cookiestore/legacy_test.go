package cookiestore_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/latchsec/latch/cookiestore"
	"github.com/latchsec/latch/driver"
)

// legacyCookies were sealed in the first envelope format (formatV1) by
// the version before formatV2 (commit c873a63), under fixedKeys at t0.
// Browsers hold such cookies until they expire: Open must still read
// them.
var legacyCookies = []struct {
	name  string
	value string
	id    driver.Hash
	rec   func() *driver.Record
}{
	{"logged in", "fz.coli6A_fpS4VwvC-Q_fR3IRUFwDMaU7874HW9nBO9Z4FKgO3sG0Ljukvku3vPiSgPUTUjhi61KUUFSgPqVTAEviGDpimsNGYgq4efn320dbTyL9LZk5j5AI8W6HNLDLGC4H3KlvIJ44_39mKtY7fiyk9X9dAr5uRcudJh7EEPuNgo24ToKVfVUva7gZUIGakT-KzukI7r_7VR82M6nVoqPJ--vPNvDFmTtCwjbMMiDKk0v_UQqCOP83cb6gqpQCtO3R7vGb9-KhZEQyTM0QQHv_WmFz87K3aPqwQUtIhQq13wir5tEclApGYRLebyLnwY6OZGHGl4gTvpkB9KXCHZYaWkaH1eVhTl3BLKdLg5ewLTLoaF_1nIQEQmaJ0bkIxwZtutazD54sPBQxsmf9JCEqO8yQ", hashOf("golden-session"), legacyRecord},
	{"logged in, compressed", "fz.WjKJ7SLBaUxxR8anIKwMl4yUV3HxN8XyTEVEFrk4DnZH5b_pnfPFqnngdqrhYYDgyh66Y9ltufj81l-wzwE63OVpaW24_xi-ZqqTXI5e383C_qn7IIcSEu_VH09LOEGCPJtDkTI0ZfpnEohknxEGSEoSOwplJdgYpde85ErsqB5WsFaicOWAS4ZHfpTZFflnKszZYkBMiTpb5qmTCnKEE-QuozKVeGCUevbXw8D4vu4Z9f8UMWMZfEBx1HYdCQNePnPFcuPs2Xu0f7InM8WUPFURRVtgXBRrSbvTItSjUQXKsuHshTHo0ceboOckFL8VTV0yo6J0hoDEVOumqD8PUPgtvzTfnzQwTnxkEGZ4SXFmnVI", hashOf("golden-session"), legacyRecord},
	{"anonymous, no values", "fz.LRNAWHQQVU7GISCtN5MhrLcEcTWEzWK1fIt_Pjtxqxlf3xuenb-KaYGG79j61JTDZFnd8uN0urfV2Ry5hHaRCJYsxQCA2mk8nbfQiwodfUy9EIUkmzvLy-QDKmz7gDcAtmSu1Q", hashOf("golden-anon"), func() *driver.Record {
		rec := sampleRecord()
		rec.UserID, rec.AuthTime, rec.UserAgent, rec.IP, rec.Values = "", time.Time{}, "", "", nil
		return rec
	}},
}

// legacyRecord is the record in legacyCookies, as Open gives it back.
func legacyRecord() *driver.Record {
	rec := sampleRecord()
	rec.Remember = true
	rec.Values = map[string]any{"cart": json.Number("3"), "theme": "dark",
		"list": []any{"a", "b", map[string]any{"x": json.Number("1.5")}},
		"long": "repeat repeat repeat repeat repeat repeat repeat repeat"}
	return rec
}

// TestOpenLegacyCookie opens cookies sealed in formatV1: each gives its
// record until it expires, and is sealed again in formatV2.
func TestOpenLegacyCookie(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, fixedKeys(t), cookiestore.Options{})
	for _, tc := range legacyCookies {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.rec()
			o, err := s.Open(ctx, cookieName, tc.value, t0.Add(time.Minute))
			if err != nil || o.Refused != "" {
				t.Fatalf("Open: %v, refused %q", err, o.Refused)
			}
			if o.ID != tc.id || o.Fallback {
				t.Errorf("ID %x, fallback %v; want %x", o.ID[:4], o.Fallback, tc.id[:4])
			}
			if !reflect.DeepEqual(o.Record, want) {
				t.Errorf("record\n %+v\nwant\n %+v", o.Record, want)
			}
			again := mustSeal(t, s, o.ID, o.Record, t0.Add(time.Minute))
			if plain := unseal(t, fixedKeys(t), cookieName, again); plain[0] != 0x02 {
				t.Errorf("sealed again with header 0x%02x; want formatV2", plain[0])
			}
			o2, err := s.Open(ctx, cookieName, again, t0.Add(time.Minute))
			if err != nil || o2.Refused != "" || !reflect.DeepEqual(o2.Record, want) {
				t.Errorf("sealed again: %v, %q, %+v", err, o2.Refused, o2.Record)
			}
			// Expiry still holds: idle timeout 30 minutes, grace 5.
			if o, _ := s.Open(ctx, cookieName, tc.value, t0.Add(35*time.Minute)); o.Refused != driver.ReasonNotFound {
				t.Errorf("Open after its expiry: refused %q; want %q", o.Refused, driver.ReasonNotFound)
			}
		})
	}
}

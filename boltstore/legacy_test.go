package boltstore

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/latchsec/latch/driver"
	bolt "go.etcd.io/bbolt"
)

// The files testdata/boltstore-1.db.gz and boltstore-2.db.gz were written
// by the version before boltstore/3 (commit c873a63), on the fake clock of
// these tests: alice (fullMeta, four values), an anonymous session and one
// of bob. In the boltstore/2 file bob's session was then renewed, which
// left a forward.

// openLegacy copies the gzipped file name of testdata to a temporary
// directory, runs corrupt on it (when not nil) with bbolt, and opens it.
func openLegacy(t *testing.T, name string, corrupt func(*bolt.Tx) error) (*Store, string) {
	t.Helper()
	in, err := os.Open(filepath.Join("testdata", name+".db.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if corrupt != nil {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(corrupt); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(path, Options{Now: newClock().Now, SweepInterval: -1})
	if err != nil {
		t.Fatalf("Open %s: %v", name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// TestOpenMigratesLegacyFile opens files of boltstore/1 and /2: every
// session, value and forward reads as it was written, the records are
// rewritten in the current encoding with their index entries intact, the
// file is marked boltstore/3, and opening it again changes nothing.
func TestOpenMigratesLegacyFile(t *testing.T) {
	ctx := context.Background()
	alice, anon, bobOld, bobNew := hashOf("alice"), hashOf("anon"), hashOf("bob-old"), hashOf("bob-new")
	for _, tc := range []struct {
		name    string
		renewed bool // bob-old was renewed into bob-new
	}{{"boltstore-1", false}, {"boltstore-2", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s, path := openLegacy(t, tc.name, nil)
			check := func(t *testing.T, s *Store) {
				t.Helper()
				rec := mustLoad(t, s, alice)
				if rec.Meta != fullMeta() {
					t.Errorf("alice: meta %+v; want %+v", rec.Meta, fullMeta())
				}
				wantValues(t, rec, map[string]string{"theme": `"dark"`, "n": "42", "cart": "[1,2,3]", "": "null"})
				rec = mustLoad(t, s, anon)
				if rec.Meta != meta("", t0) {
					t.Errorf("anon: meta %+v; want %+v", rec.Meta, meta("", t0))
				}
				wantValues(t, rec, map[string]string{"k": `"v"`})
				wantUsers(t, s, "alice", alice)
				bob := bobOld
				if tc.renewed {
					var re *driver.RenewedError
					if _, err := s.Load(ctx, bobOld); !errors.As(err, &re) || re.To != bobNew {
						t.Errorf("Load of the renewed session: %v; want a RenewedError to bob-new", err)
					}
					bob = bobNew
				}
				wantValues(t, mustLoad(t, s, bob), map[string]string{"k": "1"})
				wantUsers(t, s, "bob", bob)
				checkIndexes(t, s)
				wantTags(t, s)
			}
			check(t, s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, Options{Now: newClock().Now, SweepInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			t.Run("reopened", func(t *testing.T) { check(t, s) })
			// The migrated file works as any other.
			mustCommit(t, s, &driver.Commit{ID: alice, Meta: fullMeta(), Delete: []string{"n"}, Set: map[string]any{"new": true}})
			wantValues(t, mustLoad(t, s, alice), map[string]string{"theme": `"dark"`, "cart": "[1,2,3]", "": "null", "new": "true"})
			if _, err := s.DeleteUser(ctx, "alice", driver.Hash{}); err != nil {
				t.Fatal(err)
			}
			wantUsers(t, s, "alice")
		})
	}
}

// wantTags checks that the file is marked boltstore/3 and holds no value
// of a legacy layout.
func wantTags(t *testing.T, s *Store) {
	t.Helper()
	err := s.db.View(func(tx *bolt.Tx) error {
		if f := tx.Bucket(bucketMeta).Get(keyFormat); !bytes.Equal(f, formatVersion) {
			t.Errorf("format %q; want %q", f, formatVersion)
		}
		return tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			if v[0] != tagRecord && v[0] != tagForward {
				t.Errorf("session %x: tag %d after the migration", k[:4], v[0])
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMigrationLeavesCorruptRecord: a legacy record that does not decode
// is left as it was, and reads as corrupt, as before the migration; the
// others are migrated, and revocation still removes it.
func TestMigrationLeavesCorruptRecord(t *testing.T) {
	ctx := context.Background()
	alice, anon := hashOf("alice"), hashOf("anon")
	var bad []byte
	s, _ := openLegacy(t, "boltstore-2", func(tx *bolt.Tx) error {
		// An unknown flag, under a valid checksum.
		b := tx.Bucket(bucketSessions)
		rec := b.Get(alice[:])
		body := slices.Clone(rec[:len(rec)-4])
		body[1] |= 2
		bad = appendChecksum(body)
		return b.Put(alice[:], bad)
	})
	_, err := s.Load(ctx, alice)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "unknown tag 1") {
		t.Errorf("Load of the record left: %v; want ErrCorrupt, unknown tag 1", err)
	}
	wantValues(t, mustLoad(t, s, anon), map[string]string{"k": `"v"`})
	if err := s.view(func(b buckets) error {
		if got := b.sessions.Get(alice[:]); !bytes.Equal(got, bad) {
			t.Errorf("the corrupt record changed: %x", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteUser(ctx, "alice", driver.Hash{}); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, err := s.Load(ctx, alice); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Load after DeleteUser: %v; want ErrNotFound", err)
	}
}

// TestMigrateManyRecords migrates more records than one batch holds.
func TestMigrateManyRecords(t *testing.T) {
	const n = 2*migrateBatch + 7
	s, _ := openLegacy(t, "boltstore-2", func(tx *bolt.Tx) error {
		// Copies of anon's legacy record under other hashes; the
		// indexes are not needed to read them.
		b := tx.Bucket(bucketSessions)
		anon := hashOf("anon")
		rec := slices.Clone(b.Get(anon[:]))
		for i := range n {
			h := hashOf(strings.Repeat("x", i))
			if err := b.Put(h[:], rec); err != nil {
				return err
			}
		}
		return nil
	})
	for i := range n {
		wantValues(t, mustLoad(t, s, hashOf(strings.Repeat("x", i))), map[string]string{"k": `"v"`})
	}
	wantTags(t, s)
}

func TestDecodeLegacyErrors(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a legacy record"},
		{"current record", encodeRecord(&record{meta: meta("u", t0)}), "not a legacy record"},
		{"forward", encodeForward(&forward{to: hashOf("to"), expires: t0}), "not a legacy record"},
		{"bad checksum", []byte{tagLegacyRecord, 0, 0, 0, 0, 0}, "checksum mismatch"},
		{"unknown flags", appendChecksum([]byte{tagLegacyRecord, 2}), "bad flags"},
		{"truncated", appendChecksum([]byte{tagLegacyRecord, 0, 0}), "truncated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeLegacy(tc.data)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v; want ErrCorrupt, %q", err, tc.want)
			}
		})
	}
}

package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latchsec/latch/driver"
	"github.com/redis/go-redis/v9"
)

// This file holds Delete, DeleteUser and the evictions of a commit on
// Cluster, and why they stay ordered against renewals although a renewal
// there is not one script.
//
// On a standalone server or behind Sentinel there is nothing to show: a
// renewal (commitScript), a Delete (deleteScript), a DeleteUser
// (deleteUserScript) and a commit with its evictions (commitScript) are
// each one script, and Redis runs scripts one at a time. Whichever runs
// second sees all of what the first did: a forward it follows, a user index
// that lists the renewed hash, or a source that is gone (NOTFOUND).
//
// # A renewal on Cluster
//
// The keys of From, of ID and of the user's index are in three slots, so a
// renewal From -> ID is five steps, each one script, atomic on its slot:
//
//	R1 reserve  (user's slot) ID enters the index, marked pending "TIME/From";
//	            refused (NOTFOUND) if another commit chose From for eviction
//	R2 take     (From's slot) From's record is read and replaced by a
//	            pending forward From -> ID; the reply carries the server
//	            time by which R3 must run (half of tombstoneTTL from now)
//	R3 create   (ID's slot)   ID's record is written, naming From in "prev",
//	            unless ID holds a tombstone (NOTFOUND), a record or forward
//	            (EXISTS), or the deadline has passed (STALE); on failure
//	            From's record is put back if From still holds this forward
//	            (restoreScript)
//	R3' final   (From's slot) the forward is no longer pending
//	R4 finish   (user's slot) victims are ended (below), From's entry
//	            leaves the index (in the same round trip as R3')
//
// An anonymous renewal has no R1 and R4. Every live session of a user is
// in the user's index at every moment: R1 adds ID before R3 creates it,
// and R4 removes From only once it is a forward.
//
// # Load and updates on Cluster
//
// A Load of From, or an update of From (or a renewal from it), is one
// script on From's slot:
//
//   - before R2 it reads, or lands in, the record, and R2 takes it along;
//   - between R2 and R3' it meets the pending forward and waits (settle):
//     once ID's record names From (R3 ran) it answers the RenewedError; if
//     the renewal fails and puts From back, the retry lands in From; if a
//     Delete overtook the renewal, the retry finds nothing (ErrNotFound:
//     the session was ended). Only a renewal stalled for forwardWait
//     between R2 and R3 makes it answer the RenewedError for an ID not
//     yet written;
//   - after R3' it answers the RenewedError at once.
//
// So a caller told that the session moved finds it at ID, which is what
// lets latch land a late commit there.
//
// # Delete(h) on Cluster
//
// Delete visits h and the forwards after it, one script (endScript) per
// key: a forward is deleted and Delete goes on at its target; a record is
// deleted (and then its index entry) and Delete stops. At a forward's
// target that holds nothing yet, it leaves a tombstone (tombstoneTTL) and
// stops; at h itself it leaves none. Against a renewal From -> ID, with h
// = From or h a hash whose chain of forwards reaches From:
//
//   - Delete reaches From before R2: it deletes the record; R2 finds
//     nothing, the renewal fails with ErrNotFound (and abandons R1).
//   - Delete reaches From after R2, before R3: it deletes the forward and
//     tombstones ID; R3 refuses it, the renewal fails with ErrNotFound, and
//     its restore finds no forward to undo, so From stays gone.
//   - Delete reaches From after R3: it follows the forward to ID's record
//     and deletes it; the renewal reports success, and ID is gone.
//   - R3 fails for another reason (EXISTS, STALE) and restores From's
//     record: Delete finds either the forward (deletes it; the restore then
//     does nothing) or the restored record (deletes it).
//   - Delete reaches From after R2 but R3 never runs (the client died): the
//     tombstone outlives the deadline of R3 by half of tombstoneTTL, more
//     than any clock skew between two nodes that we accept, so a late R3
//     is STALE even once the tombstone is gone.
//
// A tombstone only ever stops a create; Load and an update read it as
// nothing (ErrNotFound).
//
// # DeleteUser(user, keep) on Cluster
//
//	D1 (user's slot) read the index and its pending marks, in one script
//	D2 resolve keep: follow its forwards; add every pending entry whose
//	   mark names a kept hash as its source (a renewal of keep in flight)
//	D3 end every listed hash not kept, as Delete does (endScript, one
//	   pipeline per hop), but only records of user, and with tombstones at
//	   forwards' targets; then tidy the index
//
// Against a renewal From -> ID of one of the user's sessions (From is
// listed in D1, whatever step the renewal is at, since every live session
// is indexed and R4 removes From only after R3):
//
//   - D3 reaches From before R2: the record is deleted; R2 fails.
//   - D3 reaches From between R2 and R3: the forward is deleted and ID
//     tombstoned (whether or not D1 listed ID: a listed ID holding nothing
//     is not tombstoned from the index, only from a forward); R3 fails, and
//     the restore finds no forward.
//   - D3 reaches From after R3: it follows the forward and deletes ID (or,
//     if D1 listed ID and D3 reached it first, ID is deleted directly and
//     the forward is deleted on its own).
//   - The renewal moved the session to another user V (a login as V):
//     D3 follows From's forward and leaves V's record alone (OTHER) if R3
//     ran, or tombstones ID if it had not: the renewal of the user's
//     session then fails after DeleteUser.
//
// For keep K being renewed K -> K2 at the same time: if R1 ran before D1,
// D1 lists K2 with the mark "TIME/K" and D2 keeps it; if R1 ran after D1,
// K2 is not listed and D3 never visits it; K itself is never visited. A
// session renewed before D2 is found by following K's forward.
//
// A login into the user (From anonymous or another user's) that reserved
// before D1 and creates after D3 survives, as it would had it run wholly
// after DeleteUser: it is not a session of the user when DeleteUser takes
// effect, and no tombstone is left on a listed hash that holds nothing.
//
// # Evictions on Cluster
//
// A commit with MaxPerUser and EvictOldest chooses its victims in R1 (the
// new hash of a renewal in flight whose source is still listed counts as
// one session with it) and ends them in R4 with D3's step, so a victim
// being renewed is caught the same way: a renewal that reserves after the
// choice is refused in R1; one that reserved before fails at R2 or R3, or
// its result is deleted through the forward.
//
// A victim marked in R1 is no longer counted by a commit that evicts, but
// a commit cut after R1 (its context cancelled, its client gone) never
// deletes it, and one that fails undoes the mark: so the next commit that
// evicts deletes every victim still marked, besides its own, and makes the
// mark final; a victim whose record is not written yet then deletes
// itself when its commit finishes (TestClusterEvictionCut,
// TestClusterEvictionAbandoned). A commit that does not evict counts
// marked victims.
//
// The tests that drive these interleavings are in ordering_test.go: they
// pause a renewal between its steps (Store.pause) and run Delete,
// DeleteUser, an eviction or an update in the gap, and pause Delete and
// DeleteUser between theirs and run a renewal.

// forwardWait bounds how long Load and Commit wait on Cluster for a
// renewal that has left a pending forward (R2) to write its record (R3).
// A renewal that takes longer than this (a client stalled between two
// round trips) makes them return the driver.RenewedError anyway.
const forwardWait = 2 * time.Second

// pendingError is a forward that a Cluster renewal left and has not yet
// finalized: the record it names may not exist yet. It never leaves the
// package: settle turns it into a *driver.RenewedError.
type pendingError struct{ to driver.Hash }

func (e *pendingError) Error() string {
	return "redisstore: renewal to " + e.to.Handle() + " in flight"
}

// isPending reports whether err is or wraps a *pendingError.
func isPending(err error) bool {
	var p *pendingError
	return errors.As(err, &p)
}

// settle is called with err, the error of op, a Load or Commit on Cluster
// that met a pending forward under from (a *pendingError). While op meets
// one, it checks whether the renewal's record has been written: if so (or
// after forwardWait), the answer is the driver.RenewedError; if not, op
// runs again after a short wait. So a caller told that a session moved to
// a new hash finds it there, and a renewal that fails meanwhile (its
// record put back, or deleted by a Delete that overtook it) gives the
// answer for that.
func (s *Store) settle(ctx context.Context, from driver.Hash, err error, op func() error) error {
	start := time.Now()
	pause := 500 * time.Microsecond
	for ; ; err = op() {
		var p *pendingError
		if !errors.As(err, &p) {
			return err
		}
		landed, lerr := s.landed(ctx, from, p.to)
		if lerr != nil {
			return lerr
		}
		if landed || time.Since(start) >= forwardWait {
			return &driver.RenewedError{To: p.to}
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("redisstore: waiting for a renewal: %w", ctx.Err())
		case <-t.C:
		}
		pause = min(2*pause, 16*time.Millisecond)
	}
}

// landed reports whether the renewal from -> to has written its record:
// to holds a record created from from, or a forward (it was renewed again
// since).
func (s *Store) landed(ctx context.Context, from, to driver.Hash) (bool, error) {
	f, err := s.client.HMGet(ctx, s.sessionKey(to), fieldPrev, fieldForward).Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: follow forward: %w", err)
	}
	prev, _ := f[0].(string)
	_, fwd := f[1].(string)
	return prev == from.String() || fwd, nil
}

// clusterDelete is Delete on Cluster: one endScript per key of the chain
// from id, then the removal of the deleted record's index entry.
func (s *Store) clusterDelete(ctx context.Context, id driver.Hash) error {
	h, ttl, prev := id.String(), int64(0), ""
	now := ms(s.now())
	for range maxHops {
		reply, err := endScript.Run(ctx, s.client, []string{s.hexKey(h)}, "", now, ttl, prev).StringSlice()
		if err != nil {
			return fmt.Errorf("redisstore: delete: %w", err)
		}
		switch {
		case len(reply) == 3 && reply[0] == "FWD":
			s.step(stepDeleteHop)
			h, ttl, prev = reply[1], tombstoneTTL.Milliseconds(), h
			continue
		case len(reply) == 3 && reply[0] == "DEL" && reply[2] != "":
			// The record is gone; now its entry, on the user's slot.
			if err := s.client.ZRem(ctx, reply[2], h).Err(); err != nil {
				return fmt.Errorf("redisstore: delete: index entry: %w", err)
			}
		}
		return nil
	}
	return nil
}

// hexKey is the key of the record whose hash is h in hex.
func (s *Store) hexKey(h string) string { return s.prefix + "s:{" + h + "}" }

// readIndexScript reads a user index and its pending marks in one atomic
// step (D1), and the server time: KEYS[1] the index, KEYS[2] its pending
// hash.
var readIndexScript = redis.NewScript(luaCommon + `
return {redis.call('ZRANGE', KEYS[1], 0, -1), redis.call('HGETALL', KEYS[2]), servertime()}
`)

// clusterDeleteUser is DeleteUser on Cluster (D1, D2, D3 above).
func (s *Store) clusterDeleteUser(ctx context.Context, user, keep string) (int, error) {
	idx := s.userKey(user)
	reply, err := readIndexScript.Run(ctx, s.client, []string{idx, pendingKey(idx)}).Slice()
	if err != nil || len(reply) != 3 {
		return 0, fmt.Errorf("redisstore: delete user: read index: %w", errors.Join(err, errors.New("unexpected reply")))
	}
	members, pending := strings2(reply[0]), strings2(reply[1])
	s.step(stepDeleteUserRead)
	kept, err := s.keepChain(ctx, keep, pending)
	if err != nil {
		return 0, fmt.Errorf("redisstore: delete user: %w", err)
	}
	var targets []string
	for _, m := range members {
		if !kept[m] {
			targets = append(targets, m)
		}
	}
	n, removed, other, err := s.endSessions(ctx, user, targets, kept)
	if err != nil && removed == nil && other == nil {
		return 0, fmt.Errorf("redisstore: delete user: %w", err)
	}
	// The deletions happened (err, if any, came later): tidy the index and
	// report them.
	_, cerr := s.clean(ctx, user, cleanup{remove: removed, dead: other})
	if err != nil {
		return n, fmt.Errorf("redisstore: delete user: %w", err)
	}
	return n, cerr
}

// strings2 turns a script's array reply of strings into a []string.
func strings2(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		str, _ := e.(string)
		out = append(out, str)
	}
	return out
}

// keepChain returns the hashes DeleteUser must keep (D2): keep, the hashes
// its forwards lead to, and the pending entries of renewals from any of
// them. pending is the pending hash as a flat list of field, value.
func (s *Store) keepChain(ctx context.Context, keep string, pending []string) (map[string]bool, error) {
	kept := map[string]bool{}
	for h := keep; h != "" && !kept[h] && len(kept) < maxHops; {
		kept[h] = true
		to, err := s.client.HGet(ctx, s.hexKey(h), fieldForward).Result()
		if errors.Is(err, redis.Nil) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("follow kept session: %w", err)
		}
		h = to
	}
	for grew := len(kept) > 0; grew; {
		grew = false
		for i := 0; i+1 < len(pending); i += 2 {
			m, mark := pending[i], pending[i+1]
			if _, from, ok := strings.Cut(mark, "/"); ok && kept[from] && !kept[m] {
				kept[m] = true
				grew = true
			}
		}
	}
	return kept, nil
}

// endSessions ends, on Cluster, the sessions of user under hashes and
// wherever their forwards lead (D3), one pipeline per hop, never a hash in
// skip. It returns how many live records it deleted, the hashes whose
// entries can leave the user's index (deleted records and forwards), and
// the hashes that held nothing or another user's record (for prune, which
// spares a pending entry).
func (s *Store) endSessions(ctx context.Context, user string, hashes []string, skip map[string]bool) (n int, removed, other []string, err error) {
	type visit struct {
		hash string
		ttl  int64  // tombstone TTL: 0 for a listed hash, set at a forward's target
		prev string // the forward that led here, "" for a listed hash
		live bool   // that forward had not expired
	}
	now := ms(s.now())
	next := make([]visit, len(hashes))
	for i, h := range hashes {
		next[i] = visit{hash: h}
	}
	counted := map[string]bool{} // hashes whose session n counts
	// done holds the hashes this call has already ended or left alone: a
	// forward that leads to one again is not followed. (One that held
	// nothing, NONE, is visited again from a forward, to leave a tombstone.)
	done := map[string]bool{}
	for hop := 0; hop < maxHops && len(next) > 0; hop++ {
		cur := next
		next = nil
		cmds := make([]*redis.Cmd, len(cur))
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, v := range cur {
				// EVAL, not EVALSHA: a pipeline cannot fall back on NOSCRIPT.
				cmds[i] = endScript.Eval(ctx, p, []string{s.hexKey(v.hash)}, user, now, v.ttl, v.prev)
			}
			return nil
		})
		if err != nil {
			return n, removed, other, err
		}
		var follow []visit
		for i, v := range cur {
			reply, _ := cmds[i].StringSlice()
			if len(reply) > 0 && reply[0] != "NONE" {
				done[v.hash] = true
			}
			switch {
			case len(reply) == 3 && reply[0] == "FWD":
				removed = append(removed, v.hash)
				if !skip[reply[1]] {
					follow = append(follow, visit{reply[1], tombstoneTTL.Milliseconds(), v.hash, reply[2] == "1"})
				}
			case len(reply) == 3 && reply[0] == "DEL":
				removed = append(removed, v.hash)
				if reply[1] == "1" && !counted[v.hash] {
					counted[v.hash] = true
					n++
				}
			case len(reply) == 1 && reply[0] == "TOMB":
				// A renewal half done: the session it moves ends here,
				// unless this call deleted the record already (listed).
				if v.live && !counted[v.hash] {
					counted[v.hash] = true
					n++
				}
				other = append(other, v.hash)
			default: // OTHER, NONE
				other = append(other, v.hash)
			}
		}
		queued := map[string]bool{}
		for _, v := range follow {
			if !done[v.hash] && !queued[v.hash] {
				queued[v.hash] = true
				next = append(next, v)
			}
		}
	}
	return n, removed, other, nil
}

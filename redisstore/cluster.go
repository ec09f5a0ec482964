package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/latchsec/latch/driver"
)

// This file holds the Cluster side of Commit. A session record and a user
// index live in different hash slots, so a commit that touches both is a
// short sequence of scripts, each atomic on its own slot, ordered so that
// every live session of a user is always in the user's index:
//
//  1. reserve: the session's place in the index is taken first (and the
//     MaxPerUser limit decided there, atomically, on the user's slot);
//  2. write: the record is written (a renewal first takes the old record,
//     reading and deleting it in one script, then creates the new one);
//  3. finish: evicted sessions are deleted, then their entries and the old
//     hash's entry are removed; the reservation mark stays until its grace
//     ends, so that a concurrent ListUser cannot prune the new entry.
//
// A failure between the steps leaves an index entry without a live record,
// which ListUser and DeleteUser skip and later calls prune; never a live
// record without an index entry.

// reservation is the reply of reserveScript.
type reservation struct {
	deadline int64    // server time by which the record must be written
	added    bool     // the entry is new in the index
	evicted  []string // hashes the commit must delete once it succeeds
	marked   []string // those of evicted that this reservation marked (the rest, an earlier one)
	mark     string   // the pending mark the reservation set
	prevMark string   // the mark it replaced, "" for none
	prevScr  string   // the score it replaced, "" when added
}

// reserve runs reserveScript for c. limited says whether the commit adds a
// session to the user, so that MaxPerUser applies.
func (s *Store) reserve(ctx context.Context, c *driver.Commit, a *commitArgs, limited bool) (*reservation, error) {
	maxPer := 0
	if limited && c.MaxPerUser > 0 {
		maxPer = c.MaxPerUser
	}
	var dead []string
	var seen int64
	if maxPer > 0 {
		// Entries whose session is gone must not count against the limit.
		entries, at, err := s.inspect(ctx, a.user)
		if err != nil {
			return nil, fmt.Errorf("redisstore: commit: %w", err)
		}
		seen = at
		for _, e := range entries {
			if e.dead {
				dead = append(dead, e.hash)
			}
		}
	}
	src := ""
	if !c.From.IsZero() {
		src = c.From.String()
	}
	args := make([]any, 0, 12+len(dead))
	args = append(args, a.user, s.prefix, a.now, c.ID.String(), src, a.score, maxPer,
		boolArg(c.EvictOldest), reservationGrace.Milliseconds(), a.abs-a.now, seen, len(dead))
	for _, d := range dead {
		args = append(args, d)
	}
	reply, err := reserveScript.Run(ctx, s.client, []string{a.uidx, pendingKey(a.uidx)}, args...).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("redisstore: commit: reserve index entry: %w", err)
	}
	if len(reply) == 1 && reply[0] == "LIMIT" {
		return nil, driver.ErrSessionLimit
	}
	if len(reply) == 1 && reply[0] == "NOTFOUND" {
		return nil, driver.ErrNotFound
	}
	if len(reply) < 3 || reply[0] != "OK" {
		return nil, errors.New("redisstore: commit: unexpected reply from reserve script")
	}
	deadline, err := strconv.ParseInt(reply[1], 10, 64)
	if err != nil {
		return nil, errors.New("redisstore: commit: unexpected deadline from reserve script")
	}
	if len(reply) < 7 {
		return nil, errors.New("redisstore: commit: unexpected reply from reserve script")
	}
	marked, err := strconv.Atoi(reply[6])
	if err != nil || marked < 0 || marked > len(reply)-7 {
		return nil, errors.New("redisstore: commit: unexpected eviction count from reserve script")
	}
	return &reservation{deadline: deadline, added: reply[2] == "1", mark: reply[3], prevMark: reply[4],
		prevScr: reply[5], evicted: reply[7:], marked: reply[7 : 7+marked]}, nil
}

// abandon undoes what a reservation did when the commit failed for a reason
// that leaves the record unwritten: it removes the entry it added, or puts
// back the mark and score of an entry listed before (unreserveScript), and
// undoes the eviction marks it set (not those of earlier commits, which it
// made final).
func (s *Store) abandon(ctx context.Context, c *driver.Commit, a *commitArgs, r *reservation) error {
	if r == nil {
		return nil
	}
	var remove []string
	var with []call
	if r.added {
		remove = []string{c.ID.String()}
	} else {
		// The entry was listed before: put back the mark and score it had.
		with = []call{{unreserveScript, []string{a.uidx, pendingKey(a.uidx)}, []any{c.ID.String(), r.mark, r.prevMark, r.prevScr}}}
	}
	_, err := s.clean(ctx, a.user, cleanup{remove: remove, unevict: r.marked}, with...)
	return err
}

// finish completes a commit whose record is written: it deletes the evicted
// sessions, removes their entries (and extra, entries of records the commit
// deleted), and runs the calls in with in the same round trip as that. If
// another commit evicted this one while it was in flight, the new record
// is deleted too.
func (s *Store) finish(ctx context.Context, c *driver.Commit, a *commitArgs, r *reservation, extra []string, with ...call) error {
	var remove, other []string
	remove = append(remove, extra...)
	if len(r.evicted) > 0 {
		_, rm, ot, err := s.endSessions(ctx, a.user, r.evicted, nil)
		if err != nil {
			return fmt.Errorf("redisstore: commit: evict: %w", err)
		}
		remove = append(remove, rm...)
		other = ot
	}
	evicted, err := s.clean(ctx, a.user, cleanup{done: c.ID.String(), mark: r.mark, remove: remove, dead: other}, with...)
	if err != nil {
		return err
	}
	if evicted {
		// Another commit reserved its place after ours and chose this
		// session to evict: it is deleted as if the commit had landed first.
		_, rm, _, err := s.endSessions(ctx, a.user, []string{c.ID.String()}, nil)
		if err != nil {
			return fmt.Errorf("redisstore: commit: evicted while in flight: %w", err)
		}
		if _, err := s.clean(ctx, a.user, cleanup{remove: rm}); err != nil {
			return err
		}
	}
	return nil
}

// clusterCommit is Commit on Cluster.
func (s *Store) clusterCommit(ctx context.Context, c *driver.Commit, a *commitArgs) error {
	expired := a.exp <= a.now
	if !c.From.IsZero() {
		return s.clusterRenew(ctx, c, a, expired)
	}
	if c.Create {
		if a.user == "" || expired {
			reply, err := s.runCommit(ctx, c, a, opCreate, indexNone, 0)
			if err != nil {
				return err
			}
			return statusErr(reply)
		}
		return s.reservedWrite(ctx, c, a, opCreate, true)
	}
	imode := indexGuard
	if expired {
		imode = indexNone // the script deletes; a stale index entry is pruned later
	}
	reply, err := s.runCommit(ctx, c, a, opUpdate, imode, 0)
	if err != nil {
		return err
	}
	if reply[0] == "OK" && len(reply) == 2 {
		// The session became anonymous: its old entry goes.
		if oldIdx, _ := reply[1].(string); oldIdx != "" {
			if err := s.client.ZRem(ctx, oldIdx, c.ID.String()).Err(); err != nil {
				return fmt.Errorf("redisstore: commit: old user index: %w", err)
			}
		}
		return nil
	}
	if reply[0] != "NEEDINDEX" {
		return statusErr(reply)
	}
	// The commit changes the user, its score (Created), or extends the
	// absolute deadline that bounds the index's life: reserve, then write.
	if len(reply) < 3 {
		return errors.New("redisstore: commit: unexpected reply from script")
	}
	changed := reply[1] == "1"
	oldIdx, _ := reply[2].(string)
	if err := s.reservedWrite(ctx, c, a, opUpdate, changed); err != nil {
		return err
	}
	if changed && oldIdx != "" && oldIdx != a.uidx {
		if err := s.client.ZRem(ctx, oldIdx, c.ID.String()).Err(); err != nil {
			return fmt.Errorf("redisstore: commit: old user index: %w", err)
		}
	}
	return nil
}

// reservedWrite reserves the session's index entry, writes the record with
// op and finishes.
func (s *Store) reservedWrite(ctx context.Context, c *driver.Commit, a *commitArgs, op commitOp, limited bool) error {
	r, err := s.reserve(ctx, c, a, limited)
	if err != nil {
		return err
	}
	s.step(stepCommitReserved)
	reply, err := s.runCommit(ctx, c, a, op, indexNone, r.deadline)
	if err != nil {
		// The outcome is unknown: keep the reservation, so that a record
		// that was written is still indexed.
		return err
	}
	if err := statusErr(reply); err != nil {
		if reply[0] != "STALE" {
			if aerr := s.abandon(ctx, c, a, r); aerr != nil {
				return errors.Join(err, aerr)
			}
		}
		return err
	}
	return s.finish(ctx, c, a, r, nil)
}

// clusterRenew is a renewal on Cluster: reserve the new entry (user's
// slot), take the old record leaving a forward in its place (From's slot),
// create the new record from it (ID's slot), finish. If the new record
// cannot be created, the old one is put back, unless a Delete or
// DeleteUser removed the forward meanwhile. See ordering.go for why this
// order keeps Delete and DeleteUser ordered against the renewal.
func (s *Store) clusterRenew(ctx context.Context, c *driver.Commit, a *commitArgs, expired bool) error {
	var r *reservation
	if a.user != "" && !expired {
		var err error
		if r, err = s.reserve(ctx, c, a, true); err != nil {
			return err
		}
	}
	s.step(stepRenewReserved)
	base, deadline, err := s.take(ctx, c, expired)
	if err != nil {
		if base == nil && deadline == 0 { // the take wrote nothing
			if aerr := s.abandon(ctx, c, a, r); aerr != nil {
				return errors.Join(err, aerr)
			}
		}
		return err
	}
	s.step(stepRenewTaken)

	// Apply Clear, Delete and Set to the taken values here; the script then
	// creates the record from the result.
	del := make(map[string]bool, len(a.dels))
	for _, d := range a.dels {
		del[d] = true
	}
	merged := *a
	merged.dels = nil
	merged.sets = nil
	if !c.Clear {
		for f, v := range base {
			if strings.HasPrefix(f, valuePrefix) && !del[f] {
				merged.sets = append(merged.sets, f, v)
			}
		}
	}
	merged.sets = append(merged.sets, a.sets...)
	merged.sets = append(merged.sets, fieldPrev, c.From.String())
	mc := *c
	mc.Clear = false
	mc.From = driver.Hash{}
	if r != nil && r.deadline < deadline {
		deadline = r.deadline
	}
	reply, err := s.runCommit(ctx, &mc, &merged, opCreate, indexNone, deadline)
	if err != nil {
		// Unknown outcome: the old hash holds a forward, the new record may
		// or may not exist. Failing closed, the caller must log in again.
		return err
	}
	if err := statusErr(reply); err != nil {
		if rerr := s.restore(ctx, c, base, a.now); rerr != nil {
			err = errors.Join(err, rerr)
		}
		if reply[0] != "STALE" {
			if aerr := s.abandon(ctx, c, a, r); aerr != nil {
				err = errors.Join(err, aerr)
			}
		}
		return err
	}
	// The record is written: the forward need not make anyone wait
	// (finalize: From's hash is dead, so what it holds, if anything, is
	// this renewal's forward), and the old record's index entry goes.
	var final []call
	if !expired {
		final = []call{{args: []any{"hdel", s.sessionKey(c.From), fieldPending}}}
	}
	oldIdx := base[fieldIndex]
	if r != nil {
		var extra []string
		if oldIdx == a.uidx {
			extra = []string{c.From.String()}
		}
		if err := s.finish(ctx, c, a, r, extra, final...); err != nil {
			return err
		}
	} else if len(final) > 0 {
		if err := s.runAll(ctx, final...)[0].Err(); err != nil {
			return fmt.Errorf("redisstore: commit: finalize forward: %w", err)
		}
	}
	if oldIdx != "" && (r == nil || oldIdx != a.uidx) {
		if err := s.client.ZRem(ctx, oldIdx, c.From.String()).Err(); err != nil {
			return fmt.Errorf("redisstore: commit: old user index: %w", err)
		}
	}
	return nil
}

// take runs takeScript on c.From: it returns the fields of the record it
// replaced by a forward to c.ID (pending, unless the result is expired),
// and the server time by which the new record must be created.
// On driver.ErrNotFound or a forward's error it wrote nothing; on another
// error base is nil and deadline is -1 (the outcome is unknown).
func (s *Store) take(ctx context.Context, c *driver.Commit, expired bool) (base map[string]string, deadline int64, err error) {
	taken, err := takeScript.Run(ctx, s.client, []string{s.sessionKey(c.From)},
		ms(s.now()), c.ID.String(), reservationGrace.Milliseconds(), boolArg(expired)).StringSlice()
	if err != nil {
		return nil, -1, fmt.Errorf("redisstore: commit: take renewed session: %w", err)
	}
	switch {
	case len(taken) == 3 && taken[0] == "RENEWED":
		return nil, 0, forwardReplyErr(taken[1], taken[2])
	case len(taken) < 2 || taken[0] != "OK":
		return nil, 0, driver.ErrNotFound
	}
	deadline, err = strconv.ParseInt(taken[1], 10, 64)
	if err != nil {
		return nil, -1, errors.New("redisstore: commit: unexpected deadline from take script")
	}
	base = make(map[string]string, (len(taken)-2)/2)
	for i := 2; i+1 < len(taken); i += 2 {
		base[taken[i]] = taken[i+1]
	}
	return base, deadline, nil
}

// restore puts back the record that a failed renewal took, if From still
// holds the forward the take left.
func (s *Store) restore(ctx context.Context, c *driver.Commit, fields map[string]string, now int64) error {
	exp, err := strconv.ParseInt(fields[fieldExpiry], 10, 64)
	if err != nil {
		return errors.New("redisstore: commit: restore: corrupt record")
	}
	args := make([]any, 0, 2+2*len(fields))
	args = append(args, exp-now, c.ID.String())
	for f, v := range fields {
		args = append(args, f, v)
	}
	if err := restoreScript.Run(ctx, s.client, []string{s.sessionKey(c.From)}, args...).Err(); err != nil {
		return fmt.Errorf("redisstore: commit: restore renewed session: %w", err)
	}
	return nil
}

package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/latchsec/latch/driver"
	"github.com/redis/go-redis/v9"
)

var _ driver.Store = (*Store)(nil)

// DefaultPrefix is the prefix of every key the store writes unless
// Options.Prefix sets another.
const DefaultPrefix = "latch:"

// reservationGrace is how long a place that a Cluster commit reserved in a
// user index is protected from pruning while its record is not yet written.
// The commit must write the record within half of it (checked on the
// server), so a reservation is never pruned under a commit that succeeds.
const reservationGrace = 60 * time.Second

// tombstoneTTL is how long a tombstone that Delete or DeleteUser leaves on
// Cluster lives. It outlives, by half of it, the deadline by which the
// renewal it stops must create its record (see takeScript), which covers
// the skew between the clocks of two Redis nodes.
const tombstoneTTL = reservationGrace

// Field names of a session record, a forward and a tombstone; see
// scripts.go.
const (
	fieldMeta    = "meta"
	fieldUser    = "user"
	fieldIndex   = "uidx"
	fieldExpiry  = "exp"
	fieldForward = "fwd"
	fieldTomb    = "tomb"
	fieldPrev    = "prev"
	fieldPending = "pend"
	valuePrefix  = "v:"
)

// Store is a driver.Store on Redis. It is safe for concurrent use.
type Store struct {
	client  redis.UniversalClient
	owned   bool
	cluster bool
	prefix  string
	now     func() time.Time

	// prefixArg is prefix as a script argument, boxed once.
	prefixArg any

	// acks and ackTimeout: see Options.ReplicaAcks.
	acks       int
	ackTimeout time.Duration

	// pause, set by tests only, is called between the steps of the
	// operations that take more than one round trip (see cluster.go), so
	// that a test can run another operation in the gap.
	pause func(step string)
}

// Steps at which Store.pause is called.
const (
	stepCommitReserved = "commit: reserved" // Cluster create or update, before the write
	stepRenewReserved  = "renew: reserved"  // Cluster renewal, before the take
	stepRenewTaken     = "renew: taken"     // Cluster renewal, between take and create
	stepDeleteHop      = "delete: hop"      // Cluster Delete, after a forward is removed
	stepDeleteUserRead = "deleteuser: read" // Cluster DeleteUser, after reading the index
)

func (s *Store) step(name string) {
	if s.pause != nil {
		s.pause(name)
	}
}

// Options configure a Store. The zero value is valid: the default prefix,
// the system clock, no wait for replicas.
type Options struct {
	// Prefix starts every key the store writes. Default DefaultPrefix
	// ("latch:"). Applications that share a Redis deployment use distinct
	// prefixes. A prefix may not contain '{' or '}', which Redis Cluster
	// reads as a hash tag.
	Prefix string
	// Now is the clock that decides whether a record is live. Default
	// time.Now. Expiry is computed from this clock, and Redis is given the
	// remaining time to live, so the application's clock and the servers'
	// clocks need not agree.
	Now func() time.Time
	// ReplicaAcks makes every write that ends a session (Delete,
	// DeleteUser, and a renewal, which replaces the old ID) wait until
	// that many replicas have it, up to ReplicaAckTimeout, in the same
	// round trip (WAIT). Redis replicates asynchronously, so without it a
	// failover can lose a logout that the master acknowledged and bring
	// the session back; with it, such a write that fewer replicas
	// acknowledged returns an error, and the caller knows the revocation
	// may not be durable. Default 0: no wait. Negative is an error. Only
	// for a standalone server with replicas or Sentinel: New refuses it on
	// Cluster, where WAIT cannot follow a script to its node.
	ReplicaAcks int
	// ReplicaAckTimeout bounds the wait of ReplicaAcks; at least a
	// millisecond when ReplicaAcks is set.
	ReplicaAckTimeout time.Duration
}

// New returns a store on client: a *redis.Client (standalone, or Sentinel
// from redis.NewFailoverClient) or a *redis.ClusterClient; any other
// implementation is treated as a single node. The caller keeps ownership of
// client: Close does not close it. A *redis.Ring is refused, because it
// cannot run a script across the keys of one session and one user. The
// servers must run Redis 5 or later.
func New(client redis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: nil client")
	}
	s := &Store{client: client, prefix: DefaultPrefix, now: time.Now}
	switch c := client.(type) {
	case *redis.Client:
		if c == nil {
			return nil, errors.New("redisstore: nil client")
		}
	case *redis.ClusterClient:
		if c == nil {
			return nil, errors.New("redisstore: nil client")
		}
		s.cluster = true
	case *redis.Ring:
		return nil, errors.New("redisstore: redis.Ring is not supported; use a Cluster")
	}
	if opts.Prefix != "" {
		if strings.ContainsAny(opts.Prefix, "{}") {
			return nil, errors.New("redisstore: Options.Prefix may not contain '{' or '}'")
		}
		s.prefix = opts.Prefix
	}
	if opts.Now != nil {
		s.now = opts.Now
	}
	switch {
	case opts.ReplicaAcks < 0:
		return nil, errors.New("redisstore: negative Options.ReplicaAcks")
	case opts.ReplicaAcks > 0 && opts.ReplicaAckTimeout < time.Millisecond:
		return nil, errors.New("redisstore: Options.ReplicaAcks needs a ReplicaAckTimeout of at least 1ms")
	case opts.ReplicaAcks > 0 && s.cluster:
		return nil, errors.New("redisstore: Options.ReplicaAcks is not supported on Cluster")
	}
	s.acks, s.ackTimeout = opts.ReplicaAcks, opts.ReplicaAckTimeout
	s.prefixArg = s.prefix
	return s, nil
}

// run runs script. With wait set and Options.ReplicaAcks in force, it sends the
// script and a WAIT in one pipeline, on one connection (WAIT covers the
// writes of its own connection), and fails if too few replicas acknowledge.
func (s *Store) run(ctx context.Context, script *redis.Script, wait bool, keys []string, args ...any) *redis.Cmd {
	if !wait || s.acks == 0 {
		return script.Run(ctx, s.client, keys, args...)
	}
	var cmd *redis.Cmd
	for attempt := 0; attempt < 2; attempt++ {
		var acked *redis.Cmd
		_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			if attempt == 0 {
				cmd = script.EvalSha(ctx, p, keys, args...)
			} else {
				cmd = script.Eval(ctx, p, keys, args...)
			}
			acked = p.Do(ctx, "WAIT", s.acks, s.ackTimeout.Milliseconds())
			return nil
		})
		if attempt == 0 && redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			continue // not cached on the server: send the source
		}
		if cmd.Err() == nil {
			s.checkAcks(cmd, acked)
		}
		break
	}
	return cmd
}

// checkAcks sets an error on cmd when fewer than the required replicas
// acknowledged it.
func (s *Store) checkAcks(cmd *redis.Cmd, acked *redis.Cmd) {
	n, err := acked.Int64()
	switch {
	case err != nil:
		cmd.SetErr(fmt.Errorf("replica acknowledgement: %w", err))
	case n < int64(s.acks):
		cmd.SetErr(fmt.Errorf("write reached %d of %d replicas within %v", n, s.acks, s.ackTimeout))
	}
}

// Close releases the client if Open created it. For a store from New it
// does nothing: the caller closes its own client.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("redisstore: close: %w", err)
	}
	return nil
}

// Client returns the client the store uses.
func (s *Store) Client() redis.UniversalClient { return s.client }

// userKey is the key of the user's index. The user ID is path-escaped in
// the hash tag, so that no ID can contain a '}' that would end the tag.
func (s *Store) userKey(user string) string {
	return s.prefix + "u:{" + url.PathEscape(user) + "}"
}

func pendingKey(userKey string) string { return userKey + ":pending" }

// commitOp says what the commit script does: the ARGV it reads as op.
type commitOp string

const (
	opUpdate commitOp = "update"
	opCreate commitOp = "create"
	opRenew  commitOp = "renew"
)

// indexMode says how a script keeps the user index (its ARGV mode): in the
// same script (a single node), apart from it (Cluster, where the index
// lives in another slot), only as a guard against a concurrent
// revocation, or not at all.
type indexMode string

const (
	indexSingle  indexMode = "single"
	indexCluster indexMode = "cluster"
	indexGuard   indexMode = "guard"
	indexNone    indexMode = "none"
)

func (s *Store) mode() indexMode {
	if s.cluster {
		return indexCluster
	}
	return indexSingle
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// checkCtx returns ctx's error, wrapped, if it is already done, so that a
// cancelled call never reaches the server.
func checkCtx(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return nil
}

// Load returns the live record stored under id, driver.ErrNotFound, or a
// *driver.RenewedError when id holds a forward. It is one HGETALL (on
// Cluster, a forward whose renewal is half done costs more; see settle).
func (s *Store) Load(ctx context.Context, id driver.Hash) (*driver.Record, error) {
	if err := checkCtx(ctx, "load"); err != nil {
		return nil, err
	}
	rec, err := s.load(ctx, id)
	if _, ok := err.(*pendingError); ok {
		err = s.settle(ctx, id, err, func() error {
			var err error
			rec, err = s.load(ctx, id)
			return err
		})
	}
	return rec, err
}

// load is Load without the wait for a pending forward.
func (s *Store) load(ctx context.Context, id driver.Hash) (*driver.Record, error) {
	fields, err := s.client.HGetAll(ctx, s.sessionKey(id)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, driver.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: load: %w", err)
	}
	if len(fields) == 0 {
		return nil, driver.ErrNotFound
	}
	if to, ok := fields[fieldForward]; ok {
		return nil, s.forwardErr(id, to, fields[fieldExpiry], fields[fieldPending])
	}
	rec, exp, err := decodeRecord(fields)
	if err != nil {
		if _, ok := fields[fieldTomb]; ok {
			return nil, driver.ErrNotFound
		}
		return nil, fmt.Errorf("redisstore: load session %s: %w", id.Handle(), err)
	}
	if exp <= ms(s.now()) {
		return nil, driver.ErrNotFound
	}
	return rec, nil
}

// forwardErr is what load returns for the forward under id: the error of
// forwardReplyErr, or driver.ErrNotFound once the forward's expiry exp has
// passed.
func (s *Store) forwardErr(id driver.Hash, to, exp, pend string) error {
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return fmt.Errorf("redisstore: load session %s: corrupt forward: bad expiry field", id.Handle())
	}
	if e <= ms(s.now()) {
		return driver.ErrNotFound
	}
	return forwardReplyErr(to, pend)
}

// forwardReplyErr returns the error for a forward to the hash to (hex): a
// *driver.RenewedError, or a *pendingError if pend is not empty (see
// settle).
func forwardReplyErr(to, pend string) error {
	h, err := driver.ParseHash(to)
	if err != nil {
		return errors.New("redisstore: corrupt forward: bad target")
	}
	if pend != "" {
		return &pendingError{to: h}
	}
	return &driver.RenewedError{To: h}
}

// decodeRecord turns the fields of a record into a driver.Record and its
// expiry in milliseconds.
func decodeRecord(fields map[string]string) (*driver.Record, int64, error) {
	exp, err := strconv.ParseInt(fields[fieldExpiry], 10, 64)
	if err != nil {
		return nil, 0, errors.New("corrupt record: bad expiry field")
	}
	n := 0
	for f := range fields {
		if strings.HasPrefix(f, valuePrefix) {
			n++
		}
	}
	rec := new(driver.Record)
	if n > 0 {
		// A record without values keeps a nil map, as memstore's do.
		rec.Values = make(map[string]any, n)
	}
	if err := decodeMeta(fields[fieldMeta], &rec.Meta); err != nil {
		return nil, 0, fmt.Errorf("corrupt record: metadata: %w", err)
	}
	for f, raw := range fields {
		k, ok := strings.CutPrefix(f, valuePrefix)
		if !ok {
			continue
		}
		v, err := driver.DecodeValueString(raw)
		if err != nil {
			return nil, 0, fmt.Errorf("corrupt record: value %q: %w", k, err)
		}
		rec.Values[k] = v
	}
	return rec, exp, nil
}

// commitArgs are the script arguments that describe a commit.
type commitArgs struct {
	now, exp, abs int64
	meta          []byte // driver.Meta as JSON
	user, uidx    string
	score         int64 // Meta.Created in microseconds
	dels          []string
	sets          []any // field, value, field, value...
}

func (s *Store) prepare(c *driver.Commit) (*commitArgs, error) {
	// One buffer holds the metadata and then every field and value to
	// set; the arguments are slices of it, taken once it is complete.
	buf, err := appendMeta(make([]byte, 0, 384), &c.Meta)
	if err != nil {
		return nil, fmt.Errorf("redisstore: commit: encode metadata: %w", err)
	}
	metaEnd := len(buf)
	a := &commitArgs{
		now:   ms(s.now()),
		exp:   ms(c.Meta.ExpiresAt()),
		abs:   ms(c.Meta.AbsoluteDeadline().Add(c.Meta.Grace)),
		user:  c.Meta.UserID,
		score: c.Meta.Created.UnixMicro(),
	}
	if a.user != "" {
		a.uidx = s.userKey(a.user)
	}
	if len(c.Delete) > 0 {
		a.dels = make([]string, len(c.Delete))
		for i, k := range c.Delete {
			a.dels[i] = valuePrefix + k
		}
	}
	if len(c.Set) > 0 {
		var small [8]string
		keys := small[:0]
		for k := range c.Set {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		// ends[2i] ends the name of field i, ends[2i+1] its value.
		var smallEnds [16]int
		ends := smallEnds[:0]
		for _, k := range keys {
			buf = append(buf, valuePrefix...)
			buf = append(buf, k...)
			ends = append(ends, len(buf))
			if buf, err = appendValue(buf, c.Set[k]); err != nil {
				return nil, fmt.Errorf("redisstore: commit: value %q: %w", k, err)
			}
			ends = append(ends, len(buf))
		}
		a.sets = make([]any, len(ends))
		from := metaEnd
		for i, to := range ends {
			a.sets[i] = buf[from:to:to]
			from = to
		}
	}
	a.meta = buf[:metaEnd:metaEnd]
	return a, nil
}

// Script arguments for true and false, boxed once.
var argTrue, argFalse any = "1", "0"

func boolArg(b bool) any {
	if b {
		return argTrue
	}
	return argFalse
}

// runCommit runs commitScript and returns its reply.
func (s *Store) runCommit(ctx context.Context, c *driver.Commit, a *commitArgs, op commitOp, imode indexMode, resv int64) ([]any, error) {
	dst := s.sessionKey(c.ID)
	keys := make([]string, 1, 2)
	keys[0] = dst
	src := ""
	if op == opRenew {
		k := s.sessionKey(c.From)
		keys = append(keys, k)
		src = s.keyHash(k)
	}
	maxPer := c.MaxPerUser
	if maxPer < 0 {
		maxPer = 0
	}
	args := make([]any, 0, 18+len(a.dels)+len(a.sets))
	args = append(args, string(op), string(imode), a.now, a.exp, a.abs, a.meta, a.user, a.uidx, a.score,
		boolArg(c.Clear), maxPer, boolArg(c.EvictOldest), s.prefixArg, s.keyHash(dst), src, resv,
		len(a.dels))
	for _, d := range a.dels {
		args = append(args, d)
	}
	args = append(args, len(a.sets)/2)
	args = append(args, a.sets...)
	reply, err := s.run(ctx, commitScript, op == opRenew, keys, args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("redisstore: commit: %w", err)
	}
	if len(reply) == 0 {
		return nil, errors.New("redisstore: commit: empty reply from script")
	}
	return reply, nil
}

// statusErr maps the reply of commitScript to the error Commit returns.
func statusErr(reply []any) error {
	switch status := reply[0]; status {
	case "OK":
		return nil
	case "NOTFOUND":
		return driver.ErrNotFound
	case "RENEWED":
		if len(reply) < 3 {
			break
		}
		to, _ := reply[1].(string)
		pend, _ := reply[2].(string)
		return forwardReplyErr(to, pend)
	case "EXISTS":
		return driver.ErrExists
	case "LIMIT":
		return driver.ErrSessionLimit
	case "STALE":
		return errors.New("redisstore: commit: took longer than the reservation allows; nothing was written")
	}
	return fmt.Errorf("redisstore: commit: unexpected reply %v from script", reply[0])
}

// Commit applies c atomically. On a standalone or Sentinel deployment it is
// one script call; on Cluster see the package documentation.
func (s *Store) Commit(ctx context.Context, c *driver.Commit) error {
	if err := checkCtx(ctx, "commit"); err != nil {
		return err
	}
	if c == nil {
		return errors.New("redisstore: commit: nil Commit")
	}
	if c.ID.IsZero() {
		return errors.New("redisstore: commit: zero ID")
	}
	if c.From == c.ID {
		return errors.New("redisstore: commit: From equals ID")
	}
	a, err := s.prepare(c)
	if err != nil {
		return err
	}
	if s.cluster {
		err := s.clusterCommit(ctx, c, a)
		if err != nil && isPending(err) {
			at := c.ID // where the forward was met
			if !c.From.IsZero() {
				at = c.From
			}
			err = s.settle(ctx, at, err, func() error { return s.clusterCommit(ctx, c, a) })
		}
		return err
	}
	op := opUpdate
	switch {
	case !c.From.IsZero():
		op = opRenew
	case c.Create:
		op = opCreate
	}
	reply, err := s.runCommit(ctx, c, a, op, indexSingle, 0)
	if err != nil {
		return err
	}
	return statusErr(reply)
}

// Delete removes the record under id and its index entry; when id holds a
// forward, it removes the forward and goes on at its target. On a
// standalone server or behind Sentinel it is one script; on Cluster see
// clusterDelete.
func (s *Store) Delete(ctx context.Context, id driver.Hash) error {
	if err := checkCtx(ctx, "delete"); err != nil {
		return err
	}
	if s.cluster {
		return s.clusterDelete(ctx, id)
	}
	key := s.sessionKey(id)
	if err := s.run(ctx, deleteScript, true, []string{key}, s.prefixArg, s.keyHash(key)).Err(); err != nil {
		return fmt.Errorf("redisstore: delete: %w", err)
	}
	return nil
}

// entry is what inspect learns about one member of a user index.
type entry struct {
	hash string
	live bool
	// dead: no live record of the user, and not a session in transit (a
	// record that a Cluster renewal has taken, replaced by a pending
	// forward, until it writes the new one)
	dead bool
	info driver.Info
}

// inspect reads the index of user and the record behind every entry (one
// ZRANGE, or on Cluster one script, and one pipeline). Entries come back
// oldest first by score. On Cluster, seen is the server time of the index's
// node when the index was read, before any record (see prune).
func (s *Store) inspect(ctx context.Context, user string) (entries []entry, seen int64, err error) {
	var members []string
	if s.cluster {
		reply, err := readIndexScript.Run(ctx, s.client, []string{s.userKey(user), pendingKey(s.userKey(user))}).Slice()
		if err != nil || len(reply) != 3 {
			return nil, 0, fmt.Errorf("redisstore: read user index: %w", errors.Join(err, errors.New("unexpected reply")))
		}
		members = strings2(reply[0])
		seen, _ = reply[2].(int64)
	} else {
		members, err = s.client.ZRange(ctx, s.userKey(user), 0, -1).Result()
		if err != nil {
			return nil, 0, fmt.Errorf("redisstore: read user index: %w", err)
		}
	}
	if len(members) == 0 {
		return nil, seen, nil
	}
	cmds := make([]*redis.SliceCmd, len(members))
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range members {
			cmds[i] = p.HMGet(ctx, s.prefix+"s:{"+m+"}", fieldUser, fieldExpiry, fieldMeta, fieldPending)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("redisstore: read user sessions: %w", err)
	}
	now := ms(s.now())
	out := make([]entry, len(members))
	for i, m := range members {
		out[i].hash = m
		v := cmds[i].Val()
		u, _ := v[0].(string)
		e, _ := v[1].(string)
		raw, _ := v[2].(string)
		exp, err := strconv.ParseInt(e, 10, 64)
		if transit(v[3], exp, now, seen) {
			continue
		}
		h, herr := driver.ParseHash(m)
		if u != user || err != nil || exp <= now || herr != nil {
			out[i].dead = true
			continue
		}
		out[i].live = true
		out[i].info.ID = h
		if err := decodeMeta(raw, &out[i].info.Meta); err != nil {
			return nil, 0, fmt.Errorf("redisstore: session %s: corrupt metadata: %w", h.Handle(), err)
		}
	}
	return out, seen, nil
}

// transit reports whether a record whose "pend" field is pend and whose
// expiry is exp is a pending forward whose renewal may still write its new
// record: a session in transit, neither live nor dead. seen is the server
// time (0 if unknown, then now, the store's time, stands in); half a
// reservation's grace beyond the renewal's deadline covers the skew between
// the clocks (as a tombstone's life does). So a renewal cut after its take
// holds its place, and counts against MaxPerUser, for the grace from the
// take, no longer.
func transit(pend any, exp, now, seen int64) bool {
	p, ok := pend.(string)
	if !ok || exp <= now {
		return false
	}
	deadline, err := strconv.ParseInt(p, 10, 64)
	if seen == 0 {
		seen = now
	}
	return err == nil && deadline+reservationGrace.Milliseconds()/2 > seen
}

// cleanup is what clean does to a user index.
type cleanup struct {
	done, mark string   // a Cluster commit that wrote its record, and its reservation's mark
	seen       int64    // the server time at which dead were found dead (inspect), 0 if unknown
	remove     []string // entries whose records are gone
	dead       []string // entries found dead, removed as prune decides
	unevict    []string // entries whose eviction marks a failed commit undoes
}

// clean runs cleanScript on the user's index, and the calls in with in the
// same round trip (see runAll).
func (s *Store) clean(ctx context.Context, user string, cu cleanup, with ...call) (evicted bool, err error) {
	remove, dead, unevict := cu.remove, cu.dead, cu.unevict
	if cu.done == "" && len(remove) == 0 && len(dead) == 0 && len(unevict) == 0 && len(with) == 0 {
		return false, nil
	}
	idx := s.userKey(user)
	args := make([]any, 0, 11+len(remove)+len(dead)+len(unevict))
	args = append(args, string(s.mode()), user, s.prefix, ms(s.now()), reservationGrace.Milliseconds(),
		cu.done, cu.mark, cu.seen, len(remove))
	for _, r := range remove {
		args = append(args, r)
	}
	args = append(args, len(dead))
	for _, d := range dead {
		args = append(args, d)
	}
	args = append(args, len(unevict))
	for _, u := range unevict {
		args = append(args, u)
	}
	cmds := s.runAll(ctx, append([]call{{cleanScript, []string{idx, pendingKey(idx)}, args}}, with...)...)
	for _, cmd := range cmds[1:] {
		if err := cmd.Err(); err != nil {
			return false, fmt.Errorf("redisstore: %w", err)
		}
	}
	reply, err := cmds[0].Text()
	if err != nil {
		return false, fmt.Errorf("redisstore: clean user index: %w", err)
	}
	return reply == "EVICTED", nil
}

// call is one script call, or with script nil one command (args), for
// runAll.
type call struct {
	script *redis.Script
	keys   []string
	args   []any
}

// runAll runs calls in one pipeline: one round trip, to each node at once
// on Cluster. Calls that the server's script cache lacked (NOSCRIPT) are
// sent again with their source.
func (s *Store) runAll(ctx context.Context, calls ...call) []*redis.Cmd {
	cmds := make([]*redis.Cmd, len(calls))
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range calls {
			if c.script == nil {
				cmds[i] = p.Do(ctx, c.args...)
				continue
			}
			cmds[i] = c.script.EvalSha(ctx, p, c.keys, c.args...)
		}
		return nil
	})
	var again []int
	for i, cmd := range cmds {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range again {
				cmds[i] = calls[i].script.Eval(ctx, p, calls[i].keys, calls[i].args...)
			}
			return nil
		})
	}
	return cmds
}

// ListUser returns the user's live sessions, oldest first by Created, and
// drops index entries whose session is gone.
func (s *Store) ListUser(ctx context.Context, userID string) ([]driver.Info, error) {
	if err := checkCtx(ctx, "list user"); err != nil {
		return nil, err
	}
	if userID == "" {
		return nil, nil
	}
	entries, seen, err := s.inspect(ctx, userID)
	if err != nil {
		return nil, err
	}
	var infos []driver.Info
	var dead []string
	for _, e := range entries {
		if e.live {
			infos = append(infos, e.info)
		} else if e.dead {
			dead = append(dead, e.hash)
		}
	}
	if _, err := s.clean(ctx, userID, cleanup{dead: dead, seen: seen}); err != nil {
		return nil, err
	}
	sortInfos(infos)
	return infos, nil
}

func sortInfos(infos []driver.Info) {
	sort.SliceStable(infos, func(i, j int) bool {
		a, b := infos[i], infos[j]
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		return a.ID.String() < b.ID.String()
	})
}

// DeleteUser removes every session of the user except keep (followed
// through forwards) and returns how many live sessions it removed. On a
// standalone server or behind Sentinel it is one script, atomic against
// every renewal; on Cluster see clusterDeleteUser.
func (s *Store) DeleteUser(ctx context.Context, userID string, keep driver.Hash) (int, error) {
	if err := checkCtx(ctx, "delete user"); err != nil {
		return 0, err
	}
	if userID == "" {
		return 0, nil
	}
	keepHex := ""
	if !keep.IsZero() {
		keepHex = keep.String()
	}
	if s.cluster {
		return s.clusterDeleteUser(ctx, userID, keepHex)
	}
	cmd := s.run(ctx, deleteUserScript, true, []string{s.userKey(userID)}, userID, s.prefixArg, ms(s.now()), keepHex)
	// With Options.ReplicaAcks, an error may come after the deletions: they
	// happened, and are counted.
	n, _ := cmd.Val().(int64)
	if err := cmd.Err(); err != nil {
		return int(n), fmt.Errorf("redisstore: delete user: %w", err)
	}
	return int(n), nil
}

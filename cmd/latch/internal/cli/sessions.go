package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/storeurl"
)

func init() {
	register(command{name: "sessions", summary: "list or revoke a user's sessions in a store", run: runSessions})
}

func runSessions(ctx context.Context, env *Env) int {
	fs := newFlags(env, "sessions", "--store URL list USER | revoke USER HANDLE | revoke-all USER")
	store := fs.String("store", env.Getenv("LATCH_STORE"), "store URL (default $LATCH_STORE): "+storeurl.Forms)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, code, ok := parseFlags(fs, env.Args)
	if !ok {
		return code
	}
	if *store == "" || len(pos) < 2 {
		fs.Usage()
		return 2
	}
	st, err := storeurl.Open(ctx, *store, storeurl.Options{})
	if err != nil {
		return fail(env, "sessions", 1, err)
	}
	defer st.Close()
	verb, user := pos[0], pos[1]
	switch {
	case verb == "list" && len(pos) == 2:
		list, err := latch.ListSessions(ctx, st, user, driver.Hash{}, time.Now())
		if err != nil {
			return fail(env, "sessions", 1, err)
		}
		return printSessions(env, list, *asJSON)
	case verb == "revoke" && len(pos) == 3:
		err := latch.RevokeSession(ctx, st, user, pos[2])
		if errors.Is(err, latch.ErrNotFound) {
			err = fmt.Errorf("user %q has no session %s", user, pos[2])
		}
		if err != nil {
			return fail(env, "sessions", 1, err)
		}
		fmt.Fprintf(env.Stdout, "revoked session %s of %q\n", pos[2], user)
		return 0
	case verb == "revoke-all" && len(pos) == 2:
		n, err := st.DeleteUser(ctx, user, driver.Hash{})
		if err != nil {
			return fail(env, "sessions", 1, err)
		}
		fmt.Fprintf(env.Stdout, "revoked %d sessions of %q\n", n, user)
		return 0
	}
	fs.Usage()
	return 2
}

// printSessions lists sessions by handle; ids and hashes never appear. The
// JSON form is latch.SessionInfo, as the library and the demo give it.
func printSessions(env *Env, list []latch.SessionInfo, asJSON bool) int {
	if asJSON {
		if list == nil {
			list = []latch.SessionInfo{}
		}
		if err := json.NewEncoder(env.Stdout).Encode(list); err != nil {
			return fail(env, "sessions", 1, err)
		}
		return 0
	}
	if len(list) == 0 {
		fmt.Fprintln(env.Stdout, "no live sessions")
		return 0
	}
	tw := tabwriter.NewWriter(env.Stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "HANDLE\tSIGNED IN\tLAST SEEN\tENDS\tADDRESS\tUSER AGENT")
	f := func(t time.Time) string { return t.Local().Format("2006-01-02 15:04") }
	for _, r := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.40s\n", r.Handle, f(r.AuthTime), f(r.LastSeen), f(r.Deadline()), r.IP, r.UserAgent)
	}
	if err := tw.Flush(); err != nil {
		return fail(env, "sessions", 1, errors.Unwrap(err))
	}
	return 0
}

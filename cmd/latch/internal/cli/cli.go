// Package cli implements the latch command. Each subcommand lives in its own
// file and registers itself from an init function.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"
)

// Env is what a subcommand gets: its arguments (without the subcommand's
// name) and the process's standard streams.
type Env struct {
	Args   []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment; tests replace it.
	Getenv func(string) string
	// Now is the clock; default time.Now. Tests replace it.
	Now func() time.Time
}

// command is one subcommand. run returns the process exit code.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *Env) int
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("cli: duplicate command " + c.name)
	}
	commands[c.name] = c
}

// Run runs the command line args (without the program name) and returns the
// exit code: 0 success, 1 failure, 2 usage error, unless a subcommand
// documents otherwise.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return RunEnv(ctx, &Env{Args: args, Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

// RunEnv is Run with a prepared Env (Args holds the whole command line).
func RunEnv(ctx context.Context, env *Env) int {
	if env.Getenv == nil {
		env.Getenv = osGetenv
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if len(env.Args) == 0 || env.Args[0] == "help" || env.Args[0] == "-h" || env.Args[0] == "--help" {
		usage(env.Stdout)
		if len(env.Args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[env.Args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "latch: unknown command %q\n", env.Args[0])
		usage(env.Stderr)
		return 2
	}
	sub := *env
	sub.Args = env.Args[1:]
	return c.run(ctx, &sub)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: latch <command> [arguments]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun \"latch <command> -h\" for a command's options.")
}

// newFlags returns a FlagSet for a subcommand that writes its usage to
// env.Stderr and returns errors instead of exiting.
func newFlags(env *Env, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet("latch "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: latch %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, allowing flags after positional arguments
// ("latch audit URL --format json"), and returns the positional arguments.
// When parsing fails it reports the exit code to use (0 for -h, 2 for a
// usage error) and ok false.
func parseFlags(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0, false
			}
			return nil, 2, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, 0, true
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseOneArg is parseFlags for a command that takes exactly one
// argument: with none or several it prints the usage and gives exit code 2.
func parseOneArg(fs *flag.FlagSet, args []string) (arg string, code int, ok bool) {
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return "", code, false
	}
	if len(pos) != 1 {
		fs.Usage()
		return "", 2, false
	}
	return pos[0], 0, true
}

// fail prints err once, prefixed with the command, and returns code.
func fail(env *Env, name string, code int, err error) int {
	fmt.Fprintf(env.Stderr, "latch %s: %v\n", name, err)
	return code
}

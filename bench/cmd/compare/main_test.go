package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunSmall(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"-sessions", "1000", "-trials", "3", "-requests", "20", "-window", "50ms", "-redis", ""}
	if code := run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut.String())
	}
	for _, want := range []string{
		"| figure | latch | scs | latch target | met |",
		"store writes per 1,000 read-only requests",
		"Set-Cookie headers per 1,000 read-only requests",
		"lost updates in 3 trials: two overlapping requests set different keys",
		"lost updates in 3 trials: a read-only request overlaps one that sets a key",
		"heap bytes per session, 1000 logged-in sessions",
		"worst lookup stall while they all expire",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "Redis") {
		t.Errorf("Redis rows printed without a Redis URL:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "Redis figures left out") {
		t.Errorf("stderr does not say the Redis figures were left out:\n%s", errOut.String())
	}
}

func TestRunUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"unknown flag", []string{"-nosuch"}},
		{"zero sessions", []string{"-sessions", "0"}},
		{"negative trials", []string{"-trials", "-1"}},
		{"zero gap", []string{"-gap", "0s"}},
		{"stray argument", []string{"extra"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), tc.args, &out, &errOut); code != 2 {
				t.Errorf("exit %d; want 2", code)
			}
			if out.Len() != 0 {
				t.Errorf("printed a table on a usage error:\n%s", out.String())
			}
		})
	}
}

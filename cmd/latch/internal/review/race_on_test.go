//go:build race

package review

// raceEnabled: the race detector slows the review several times, so the
// timing test checks verdicts only.
const raceEnabled = true

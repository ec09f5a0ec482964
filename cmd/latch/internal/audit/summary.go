package audit

// The summary closes a report the way a session-management review does:
// what is currently implemented, what is missing, and the actions, ranked
// immediate (the secret key, Secure and HttpOnly, renewing the session at
// login), priority (how and when sessions end, transport, scope) and
// long-term (key rotation, regular review, hardening).

// Group is the rank of an action.
type Group string

// The action groups, most urgent first.
const (
	Immediate Group = "immediate"
	Priority  Group = "priority"
	LongTerm  Group = "long_term"
)

// The review's check ids that the audit does not have. They are named here
// so that the summary ranks them; the review defines what they check.
const (
	CheckSecretKeySource     = "secret-key-source"
	CheckSecretKeyWeak       = "secret-key-weak"
	CheckSessionLifetime     = "session-lifetime"
	CheckSessionRegeneration = "session-regeneration"
)

// ActionGroups ranks every check id of `latch audit` and `latch review`.
// A check missing from it would rank long-term; TestActionGroupsCoverChecks
// makes sure none is.
var ActionGroups = map[string]Group{
	// The key, the cookie's exposure, and sessions an attacker can plant
	// or guess: exploitable now.
	CheckWeakSecretKey:       Immediate,
	CheckSecretKeySource:     Immediate,
	CheckSecretKeyWeak:       Immediate,
	CheckCookieSecure:        Immediate,
	CheckCookieHTTPOnly:      Immediate,
	CheckSessionFixation:     Immediate,
	CheckSessionRegeneration: Immediate,
	CheckTokenEntropy:        Immediate,
	CheckSessionInURL:        Immediate,
	// The source and the live application disagree: a hard-coded key in
	// production, or Secure, HttpOnly and the like not what the source
	// sets.
	CheckSourceKeyLive: Immediate,
	CheckSourceConfig:  Immediate,
	// How sessions end, and what carries them.
	CheckIdleTimeout:     Priority,
	CheckAbsoluteTimeout: Priority,
	CheckSessionLifetime: Priority,
	CheckLogout:          Priority,
	CheckHTTPSRedirect:   Priority,
	CheckHSTS:            Priority,
	CheckCookieSameSite:  Priority,
	CheckSourceLifetime:  Priority,
	// A binding the target offers but does not enforce: stolen cookies
	// work where the site believes they cannot.
	CheckDeviceBound: Priority,
	// Hardening.
	CheckCookieHostPrefix: LongTerm,
	CheckCookieSize:       LongTerm,
}

// groupOf returns the rank of check id.
func groupOf(id string) Group {
	if g, ok := ActionGroups[id]; ok {
		return g
	}
	return LongTerm
}

// Summary is the closing part of a report.
type Summary struct {
	// Implemented lists the checks that passed ("currently implemented").
	Implemented []SummaryCheck `json:"implemented"`
	// Missing lists the checks that failed or warned.
	Missing []SummaryCheck `json:"missing"`
	// NotChecked lists the checks that were skipped: neither implemented
	// nor missing as far as this run can tell.
	NotChecked []SummaryCheck `json:"not_checked"`
	// Actions says what to do, by rank.
	Actions Actions `json:"actions"`
}

// SummaryCheck names one check of the report.
type SummaryCheck struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Status   Status   `json:"status"`
	Severity Severity `json:"severity"`
}

// Actions are the recommendations of the missing checks, by rank, and the
// standing long-term ones.
type Actions struct {
	Immediate []Action `json:"immediate"`
	Priority  []Action `json:"priority"`
	LongTerm  []Action `json:"long_term"`
}

// Action is one thing to do: the recommendation of a failed or warned
// check (ID is the check's id), or a standing practice (ID is
// "key-rotation" or "regular-review").
type Action struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Severity Severity `json:"severity"`
	Action   string   `json:"action"`
}

// The standing long-term actions every report ends with.
var standingActions = []Action{
	{ID: "key-rotation", Title: "Secret key rotation", Severity: Info,
		Action: "Rotate the session signing key on a schedule, keeping the previous key for verification only until sessions signed with it expire (latch keygen and latch rotate manage such a keyring)."},
	{ID: "regular-review", Title: "Regular review", Severity: Info,
		Action: "Review session security regularly: run latch review on the source and latch audit on the deployed application in CI and after every change to the configuration, the proxy or the framework."},
}

// Summary returns the report's summary. Its text is the report's own, so
// a writer escapes it as it escapes the report (Summary.escaped).
func (r *Report) Summary() Summary {
	s := Summary{Implemented: []SummaryCheck{}, Missing: []SummaryCheck{}, NotChecked: []SummaryCheck{},
		Actions: Actions{Immediate: []Action{}, Priority: []Action{}, LongTerm: []Action{}}}
	for _, c := range r.Checks {
		sc := SummaryCheck{ID: c.ID, Title: c.Title, Status: c.Status, Severity: c.Severity}
		switch c.Status {
		case Pass:
			s.Implemented = append(s.Implemented, sc)
			continue
		case Fail, Warn:
			s.Missing = append(s.Missing, sc)
		default:
			s.NotChecked = append(s.NotChecked, sc)
			continue
		}
		a := Action{ID: c.ID, Title: c.Title, Severity: c.Severity, Action: c.Recommendation}
		if a.Action == "" {
			a.Action = "Fix what the evidence shows: " + c.Evidence
		}
		switch groupOf(c.ID) {
		case Immediate:
			s.Actions.Immediate = append(s.Actions.Immediate, a)
		case Priority:
			s.Actions.Priority = append(s.Actions.Priority, a)
		default:
			s.Actions.LongTerm = append(s.Actions.LongTerm, a)
		}
	}
	s.Actions.LongTerm = append(s.Actions.LongTerm, standingActions...)
	return s
}

// summaryPart is one list of checks with its heading.
type summaryPart struct {
	Name   string
	Checks []SummaryCheck
}

// parts returns the lists of checks with their headings.
func (s Summary) parts() []summaryPart {
	return []summaryPart{{"Currently implemented", s.Implemented}, {"Missing", s.Missing}, {"Not checked", s.NotChecked}}
}

// Groups returns the actions with their headings, in rank order.
func (a Actions) Groups() []ActionGroup {
	return []ActionGroup{{"Immediate", a.Immediate}, {"Priority", a.Priority}, {"Long-term", a.LongTerm}}
}

// ActionGroup is one rank of actions with its heading.
type ActionGroup struct {
	Name    string
	Actions []Action
}

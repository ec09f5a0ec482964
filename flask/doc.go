// Package flask reads, verifies, signs and audits Flask's default session
// cookies.
//
// Flask keeps the whole session in a cookie that is signed, not encrypted:
// itsdangerous's URLSafeTimedSerializer with the salt "cookie-session",
// HMAC-SHA1 key derivation and an HMAC-SHA1 signature over
// "payload.timestamp", the payload being Flask's tagged JSON, compressed with
// zlib when that is shorter. Anyone who sees the cookie can read it
// (Unverified); anyone who knows or guesses SECRET_KEY can forge it. Crack
// shows the second point with a wordlist, and latch's internal/weakkeys list
// holds the keys that tutorials, documentation and leaked projects made
// common.
//
// A Serializer does what a Flask application does with its SECRET_KEY and
// SECRET_KEY_FALLBACKS:
//
//	s := flask.New(os.Getenv("SECRET_KEY"))
//	p, err := s.Decode(cookie, 31*24*time.Hour) // PERMANENT_SESSION_LIFETIME
//	if err != nil {
//		// flask.ErrBadSignature, flask.ErrExpired, flask.ErrMalformed, ...
//	}
//	user, _ := p.Data["user"].(string)
//
// Decode checks the cookie's age as itsdangerous does, in whole seconds, so
// a timestamp centuries ahead is refused as Flask refuses it; set
// Serializer.Skew negative to refuse, as Flask does, even a cookie one
// second ahead of this clock.
//
// Encode produces exactly the bytes Flask would: the same JSON (sorted keys,
// Python's number and string formatting), the same compression decision and
// the same zlib stream, so a Go service can issue sessions a Flask
// application accepts, and tests can compare cookies byte for byte. The test
// vectors in testdata were made by Flask itself (testdata/gen_vectors.py).
//
// Python types that JSON lacks map to Go types: tuple to Tuple, bytes to
// []byte, markupsafe.Markup to Markup, uuid.UUID to UUID and datetime to
// time.Time. Numbers decode as json.Number so that Python's unbounded
// integers survive a round trip.
package flask

package flask_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchsec/latch/flask"
)

// A Flask session cookie is signed, not encrypted: anyone can read it.
func ExampleUnverified() {
	p, err := flask.Unverified("eyJ1c2VyIjoiYWxpY2UifQ.ZVPxAA.EMJOpgH63SvAAgrjv24dP-yX7g8")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(p.Raw), p.Timestamp.Format(time.RFC3339))
	// Output: {"user":"alice"} 2023-11-14T22:13:20Z
}

// Decode verifies a cookie as the Flask application would.
func ExampleSerializer_Decode() {
	s := flask.New("dev") // the application's SECRET_KEY
	s.Now = func() time.Time { return time.Unix(1700000100, 0) }
	p, err := s.Decode("eyJ1c2VyIjoiYWxpY2UifQ.ZVPxAA.EMJOpgH63SvAAgrjv24dP-yX7g8", 31*24*time.Hour)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Data["user"])

	_, err = flask.New("another key").Decode("eyJ1c2VyIjoiYWxpY2UifQ.ZVPxAA.EMJOpgH63SvAAgrjv24dP-yX7g8", 0)
	fmt.Println(errors.Is(err, flask.ErrBadSignature))
	// Output:
	// alice
	// true
}

// Encode makes the same bytes Flask makes for the same session and time.
func ExampleSerializer_Encode() {
	s := flask.New("dev")
	s.Now = func() time.Time { return time.Unix(1700000000, 0) }
	cookie, err := s.Encode(map[string]any{"user": "alice"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cookie)
	// Output: eyJ1c2VyIjoiYWxpY2UifQ.ZVPxAA.EMJOpgH63SvAAgrjv24dP-yX7g8
}

// Crack shows that a guessable SECRET_KEY lets anyone forge sessions.
func ExampleCrack() {
	cookie := "eyJ1c2VyIjoiYWxpY2UifQ.ZVPxAA.EMJOpgH63SvAAgrjv24dP-yX7g8"
	key, ok, _, err := flask.Crack(context.Background(), cookie, []string{"secret", "changeme", "dev"}, 0)
	fmt.Println(key, ok, err)
	// Output: dev true <nil>
}

package schemaregistry

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/twmb/franz-go/pkg/sr"
)

// Errors ID returns at once, without retrying, wrapped with the registry's
// URL, the subject and the registry's message, e.g.
// `schema registry http://…: subject "shop.public.orders-value": invalid
// schema: …`. Test them with errors.Is; the *sr.ResponseError is wrapped
// too.
var (
	// ErrInvalidSchema: the registry refused the schema text itself (422).
	// Permanent: the events carry that schema.
	ErrInvalidSchema = errors.New("invalid schema")

	// ErrNotRegistered: auto_register is false (or use_latest is set) and
	// the registry has no such schema or subject (404). Permanent for the
	// events that need it, until someone registers the schema.
	ErrNotRegistered = errors.New("not registered")

	// ErrUnauthorized: the registry refused the credentials (401) or the
	// request (403). It can heal (a rotated secret, a granted ACL) when the
	// caller reopens the client, so it is not permanent.
	ErrUnauthorized = errors.New("credentials refused")
)

// IncompatibleError is returned by ID when the registry refuses a schema
// under the subject's compatibility rule (409). It is permanent: the
// events carry that schema, so only a change to the subject's
// compatibility level (or a different subject strategy) lets them
// through.
type IncompatibleError struct {
	// Subject is the subject the schema was registered under.
	Subject string
	// Message is the registry's explanation.
	Message string
}

func (e *IncompatibleError) Error() string {
	msg := fmt.Sprintf("schema registry refused the schema for subject %q: incompatible with earlier versions under the subject's compatibility rule", e.Subject)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// classify sorts a failed call: retry reports whether waiting and asking
// again can help (the registry is unreachable, overloaded or failing), and
// err is the error to report, with the registry's URL and the subject.
// Nothing here holds credentials: franz-go's errors carry the URL (which
// Validate keeps free of them) and the registry's answer, never the
// request's headers.
func (c *Client) classify(subject string, err error) (retry bool, out error) {
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		// No answer: refused, reset, or the per-request timeout (which
		// matches context.DeadlineExceeded; fetch has already told the
		// caller's own context apart).
		return true, fmt.Errorf("schema registry %s: unreachable: %w", c.url, err)
	}
	switch code := re.StatusCode; {
	case code == http.StatusConflict:
		return false, &IncompatibleError{Subject: subject, Message: re.Error()}
	case code == http.StatusUnprocessableEntity:
		return false, fmt.Errorf("schema registry %s: subject %q: %w: %w", c.url, subject, ErrInvalidSchema, re)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return false, fmt.Errorf("schema registry %s: %w (HTTP %d): %w", c.url, ErrUnauthorized, code, re)
	case code == http.StatusNotFound && !c.register:
		how := "schema %w and auto_register is false"
		if c.latest {
			how = "%w: use_latest needs a registered version"
		}
		return false, fmt.Errorf("schema registry %s: subject %q: "+how+": %w", c.url, subject, ErrNotRegistered, re)
	case code == http.StatusTooManyRequests || code >= 500:
		return true, fmt.Errorf("schema registry %s: subject %q: HTTP %d: %w", c.url, subject, code, re)
	default:
		return false, fmt.Errorf("schema registry %s: subject %q: HTTP %d: %w", c.url, subject, code, re)
	}
}

package taxii

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"

	"github.com/labstack/echo/v5"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
)

// Error is a request failure the client is told about: it becomes a TAXII
// error resource (TAXII 2.1 section 3.6.1) with Status as the HTTP status.
type Error struct {
	Status      int
	Description string
}

func (e *Error) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Description) }

// errorf returns an *Error with a formatted description.
func errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Description: fmt.Sprintf(format, args...)}
}

// errorResource is the TAXII error message. The operations routes render
// the same fields as {"error": description, "error_id": ...}.
type errorResource struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	ErrorID     string `json:"error_id,omitempty"`
	HTTPStatus  string `json:"http_status"`
	// Field names the member of the request body or the query parameter
	// to blame, in the operations routes' errors only.
	Field string `json:"-"`
}

// errorWriter renders an error for the client: TAXII routes answer TAXII
// error resources, the operations routes plain JSON.
type errorWriter func(c *echo.Context, status int, res errorResource) error

func writeTAXIIError(c *echo.Context, status int, res errorResource) error {
	body, _ := json.Marshal(res)
	return c.Blob(status, MediaTypeTAXII, body)
}

func writeJSONError(c *echo.Context, status int, res errorResource) error {
	body, _ := json.Marshal(struct {
		Error   string `json:"error"`
		Field   string `json:"field,omitempty"`
		ErrorID string `json:"error_id,omitempty"`
	}{res.Description, res.Field, res.ErrorID})
	return c.Blob(status, echo.MIMEApplicationJSON, body)
}

// unavailableRetryAfter is the Retry-After (seconds) of the 503 answered
// while the store is unavailable: long enough not to hammer a store that
// is coming back, short enough that clients resume soon after it has.
const unavailableRetryAfter = 5

// writeError turns any error into an error response written by write. It
// is the one place where failures meet HTTP: known errors keep their
// status and description; anything else is an internal error whose detail
// goes to the log, never to the client.
func (s *Server) writeError(c *echo.Context, err error, write errorWriter) {
	if resp, _ := echo.UnwrapResponse(c.Response()); resp != nil && resp.Committed {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			s.log.Info("response cut: the client read it too slowly", "request_id", requestID(c), "err", err)
			return
		}
		s.log.Error("error after response started", "request_id", requestID(c), "err", err)
		return
	}
	if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
		// The client went away: nobody to answer, nothing went wrong here.
		s.log.Info("request abandoned by the client", "request_id", requestID(c), "err", err)
		return
	}
	res := errorResource{}
	status := http.StatusInternalServerError
	var te *Error
	var mbe *http.MaxBytesError
	var ie *authz.InvalidError
	var ce *authz.ConflictError
	var rle *RateLimitError
	switch {
	case errors.As(err, &te):
		status, res.Description = te.Status, te.Description
	case errors.As(err, &rle):
		status, res.Description = http.StatusTooManyRequests, rle.Description
		rle.header(c.Response().Header())
	case errors.Is(err, collections.ErrUnavailable):
		// The store's server is down, unreachable or too slow: the request
		// may succeed later. Authentication that needs the store ends here
		// too, never in a 401. The cause, in the store's words, stays in
		// the log.
		s.log.Warn("store unavailable", "request_id", requestID(c), "method", c.Request().Method,
			"path", c.Request().URL.Path, "err", err)
		c.Response().Header().Set("Retry-After", strconv.Itoa(unavailableRetryAfter))
		status, res.Description = http.StatusServiceUnavailable,
			fmt.Sprintf("the service is temporarily unavailable: its store does not answer; retry in %d seconds", unavailableRetryAfter)
	case errors.As(err, &ie):
		status, res.Description, res.Field = http.StatusBadRequest, ie.Reason, ie.Field
		if ie.Field != "" {
			res.Description = ie.Field + ": " + ie.Reason
		}
	case errors.As(err, &ce):
		status, res.Description, res.Field = http.StatusConflict, ce.Error(), ce.Field
	case errors.Is(err, authz.ErrNotFound):
		status, res.Description = http.StatusNotFound, "the requested resource does not exist"
	case errors.Is(err, authz.ErrConflict):
		status, res.Description = http.StatusConflict, "the request conflicts with the current state of the resource"
	case errors.Is(err, authz.ErrUnauthenticated):
		status, res.Description = http.StatusUnauthorized, "this request needs valid credentials"
	case errors.Is(err, authz.ErrForbidden):
		status, res.Description = http.StatusForbidden, "you may not do this"
	case errors.Is(err, collections.ErrNotFound):
		status, res.Description = http.StatusNotFound, "the requested resource does not exist"
	case errors.Is(err, collections.ErrConflict):
		// The wrapped detail may come from the database: it stays in the log.
		s.log.Info("conflict", "request_id", requestID(c), "err", err)
		status, res.Description = http.StatusConflict, "the request conflicts with the current state of the resource"
	case errors.Is(err, collections.ErrInvalid):
		// Domain rules speak of the request, never of the database.
		status, res.Description = http.StatusBadRequest, err.Error()
	case errors.As(err, &mbe):
		status, res.Description = http.StatusRequestEntityTooLarge,
			fmt.Sprintf("the request body exceeds the API root's max_content_length of %d bytes", mbe.Limit)
	case echo.StatusCode(err) == http.StatusNotFound:
		status, res.Description = http.StatusNotFound, "no endpoint at this path"
	case echo.StatusCode(err) == http.StatusMethodNotAllowed:
		status, res.Description = http.StatusMethodNotAllowed, "this endpoint does not support the "+c.Request().Method+" method"
	case echo.StatusCode(err) != 0 && echo.StatusCode(err) < 500:
		status = echo.StatusCode(err)
	default:
		s.log.Error("internal error", "request_id", requestID(c), "method", c.Request().Method,
			"path", c.Request().URL.Path, "err", err)
		res.Description = "the server could not complete the request; quote error_id when reporting it"
		res.ErrorID = requestID(c)
	}
	if status == http.StatusUnauthorized && c.Response().Header().Get("WWW-Authenticate") == "" {
		// A handler with credentials of its own (/metrics) sets its own.
		c.Response().Header().Set("WWW-Authenticate", authChallenge)
	}
	res.Title = http.StatusText(status)
	res.HTTPStatus = fmt.Sprint(status)
	if werr := write(c, status, res); werr != nil {
		s.log.Debug("write error response", "request_id", requestID(c), "err", werr)
	}
}

package collections

import "context"

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the request it serves, so
// that whatever works for the request (store, ingester, audit) can log it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id in ctx, "" if none.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

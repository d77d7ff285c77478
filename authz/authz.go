// Package authz decides who may read and write which collection.
package authz

import "context"

// AllowAll grants every requester read and write access to every
// collection. It is the authorizer of a server without access control.
type AllowAll struct{}

// CanRead reports true.
func (AllowAll) CanRead(ctx context.Context, apiRoot, collection string) bool { return true }

// CanWrite reports true.
func (AllowAll) CanWrite(ctx context.Context, apiRoot, collection string) bool { return true }

package authz

import (
	"context"
	"errors"
	"time"
)

// Certificate bindings: which TLS client certificates stand for a user
// (see certmap.go). Only admins bind: client CAs and the names they sign
// are not tied to organizations, so an org-admin could otherwise bind
// another partner's names to a user of their own, and learn from the
// conflict which names are bound. Org-admins read and remove the bindings
// of the users (other than admins) of their organization; users may read
// their own: a binding decides which certificates sign in as whom.

// CertificateBindingView is a certificate binding as the admin API shows
// it.
type CertificateBindingView struct {
	ID       string `json:"id"`
	UserID   string `json:"user_id"`
	Identity string `json:"identity"`
	// Issuer is the KeyFingerprint of the client CA; absent: any.
	Issuer    string    `json:"issuer,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func viewBinding(b CertificateBinding) CertificateBindingView {
	return CertificateBindingView{ID: b.ID, UserID: b.UserID, Identity: b.Identity, Issuer: b.Issuer, CreatedAt: b.CreatedAt}
}

// CertificateBindingInput binds a certificate identity to a user:
// Identity is required ("kind:value", normalized as
// NormalizeCertificateIdentity says); Issuer (NormalizeIssuer), when set,
// limits the binding to certificates of that client CA.
type CertificateBindingInput struct {
	Identity *string `json:"identity"`
	Issuer   *string `json:"issuer"`
}

// bindingOwner returns the user whose bindings p may read: its own, or
// one it manages (manageableUser).
func (a *Admin) bindingOwner(ctx context.Context, userID string) (Principal, error) {
	p, err := caller(ctx)
	if err != nil {
		return p, err
	}
	if userID == p.UserID {
		_, err := a.store.User(ctx, userID)
		return p, err
	}
	_, err = a.manageableUser(ctx, p, userID)
	return p, err
}

// CertificateBindings lists a user's bindings in creation order.
func (a *Admin) CertificateBindings(ctx context.Context, userID string, pg Page) (List[CertificateBindingView], error) {
	limit, after, err := pg.check()
	if err != nil {
		return List[CertificateBindingView]{}, err
	}
	if _, err := a.bindingOwner(ctx, userID); err != nil {
		return List[CertificateBindingView]{}, err
	}
	bs, err := a.store.CertificateBindings(ctx, CertificateBindingFilter{UserID: userID, After: after, Limit: limit + 1})
	if err != nil {
		return List[CertificateBindingView]{}, err
	}
	return page(bs, limit, func(b CertificateBinding) string { return b.ID }, viewBinding), nil
}

// userBinding returns binding id of the user, ErrNotFound when the user
// has no such binding.
func (a *Admin) userBinding(ctx context.Context, userID, id string) (CertificateBinding, error) {
	b, err := a.store.CertificateBinding(ctx, id)
	if err != nil {
		return CertificateBinding{}, err
	}
	if b.UserID != userID {
		return CertificateBinding{}, ErrHidden
	}
	return b, nil
}

// CertificateBinding returns one binding of a user.
func (a *Admin) CertificateBinding(ctx context.Context, userID, id string) (CertificateBindingView, error) {
	if _, err := a.bindingOwner(ctx, userID); err != nil {
		return CertificateBindingView{}, err
	}
	b, err := a.userBinding(ctx, userID, id)
	if err != nil {
		return CertificateBindingView{}, err
	}
	return viewBinding(b), nil
}

// CreateCertificateBinding binds a certificate identity to a user.
// ErrConflict (field identity) when the identity is bound with the same
// issuer already, to this user or another: the answer does not say to
// whom.
func (a *Admin) CreateCertificateBinding(ctx context.Context, userID string, in CertificateBindingInput) (CertificateBindingView, error) {
	p, err := caller(ctx)
	if err != nil {
		return CertificateBindingView{}, err
	}
	if _, err := a.manageableUser(ctx, p, userID); err != nil {
		return CertificateBindingView{}, err
	}
	if !p.IsAdmin() {
		return CertificateBindingView{}, forbidden("only admins bind certificates")
	}
	if in.Identity == nil {
		return CertificateBindingView{}, invalid("identity", "missing")
	}
	b := CertificateBinding{UserID: userID}
	if b.Identity, err = NormalizeCertificateIdentity(*in.Identity); err != nil {
		return CertificateBindingView{}, err
	}
	if b.Issuer, err = NormalizeIssuer(deref(in.Issuer)); err != nil {
		return CertificateBindingView{}, err
	}
	stored, err := a.store.CreateCertificateBinding(ctx, b)
	if errors.Is(err, ErrConflict) {
		return CertificateBindingView{}, conflict("identity", "%q is bound already for that issuer", b.Identity)
	}
	if err != nil {
		return CertificateBindingView{}, err
	}
	v := viewBinding(stored)
	return v, a.record(ctx, p, "certificate", actionCreate, "", "", nil, v)
}

// DeleteCertificateBinding removes a binding of a user: certificates with
// that identity no longer stand for the user.
func (a *Admin) DeleteCertificateBinding(ctx context.Context, userID, id string) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if _, err := a.manageableUser(ctx, p, userID); err != nil {
		return err
	}
	b, err := a.userBinding(ctx, userID, id)
	if err != nil {
		return err
	}
	if err := a.store.DeleteCertificateBinding(ctx, id); err != nil {
		return err
	}
	return a.record(ctx, p, "certificate", actionDelete, "", "", viewBinding(b), nil)
}

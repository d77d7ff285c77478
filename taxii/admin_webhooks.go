package taxii

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/labstack/echo/v5"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections/webhook"
)

// Webhook subscriptions under /admin/subscriptions: an organization's
// users (for collections they and their organization may read) and admins
// (for any organization) subscribe a URL to a collection; they see, delete
// and redeliver the subscriptions of their organization, admins every
// one. A subscription of another organization is answered as missing.

// Audit actions of subscription changes.
const (
	AuditSubscriptionCreate    = "admin.subscription.create"
	AuditSubscriptionDelete    = "admin.subscription.delete"
	AuditSubscriptionRedeliver = "admin.subscription.redeliver"
)

// Bounds of the deliveries listed.
const (
	defaultDeliveries = 50
	maxDeliveries     = 500
)

type subscriptionInput struct {
	OrganizationID string `json:"organization_id"`
	APIRoot        string `json:"api_root"`
	Collection     string `json:"collection"`
	URL            string `json:"url"`
}

type listView[T any] struct {
	Items []T `json:"items"`
}

// webhookRoutes registers the subscription routes when the server has a
// webhook service (and an admin API).
func (s *Server) webhookRoutes(e *echo.Echo) {
	if s.admin == nil || s.webhooks == nil {
		return
	}
	w := s.webhooks
	get(e, "/admin/subscriptions", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		if err := onlyQuery(c, "organization_id"); err != nil {
			return err
		}
		p, err := subscriber(ctx)
		if err != nil {
			return err
		}
		org := c.QueryParam("organization_id")
		if !p.IsAdmin() {
			if org != "" && org != p.OrganizationID {
				return reply(c, http.StatusOK)(listView[webhook.SubscriptionView]{Items: []webhook.SubscriptionView{}}, nil)
			}
			org = p.OrganizationID
		}
		subs, err := w.Store.Subscriptions(ctx, org)
		if err != nil {
			return err
		}
		views, err := w.Views(ctx, subs)
		return reply(c, http.StatusOK)(listView[webhook.SubscriptionView]{Items: views}, err)
	}))
	e.POST("/admin/subscriptions", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		var in subscriptionInput
		if err := decodeBody(c, &in); err != nil {
			return err
		}
		p, err := subscriber(ctx)
		if err != nil {
			return err
		}
		switch {
		case in.APIRoot == "":
			return badField("api_root", "required")
		case in.Collection == "":
			return badField("collection", "required")
		case in.URL == "":
			return badField("url", "required")
		}
		org := in.OrganizationID
		if p.IsAdmin() {
			if org == "" {
				return badField("organization_id", "required: the organization the subscription is for")
			}
		} else {
			if org != "" && org != p.OrganizationID {
				return fmt.Errorf("%w: only admins subscribe for another organization", authz.ErrForbidden)
			}
			org = p.OrganizationID
			// A user subscribes its organization to what both may read.
			if !s.authz.CanRead(ctx, in.APIRoot, in.Collection) {
				return fmt.Errorf("%w: collection %q", authz.ErrHidden, in.Collection)
			}
		}
		sub, secret, err := w.Subscribe(ctx, org, in.APIRoot, in.Collection, in.URL, p.UserID)
		var ue *webhook.URLError
		if errors.As(err, &ue) {
			return badField("url", "%s", ue.Reason)
		}
		if err != nil {
			return err
		}
		v := sub.View()
		s.record(c, authz.AuditEvent{Action: AuditSubscriptionCreate, APIRoot: sub.APIRoot, Collection: sub.Collection,
			Details: details(map[string]any{"after": v})})
		v.Secret = secret
		return reply(c, http.StatusCreated)(v, nil)
	}))
	get(e, "/admin/subscriptions/:sub", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		sub, err := s.ownSubscription(ctx, c.Param("sub"))
		if err != nil {
			return err
		}
		views, err := w.Views(ctx, []webhook.Subscription{sub})
		if err != nil {
			return err
		}
		return reply(c, http.StatusOK)(views[0], nil)
	}))
	e.DELETE("/admin/subscriptions/:sub", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		sub, err := s.ownSubscription(ctx, c.Param("sub"))
		if err != nil {
			return err
		}
		if err := w.Store.DeleteSubscription(ctx, sub.ID); err != nil {
			return err
		}
		s.record(c, authz.AuditEvent{Action: AuditSubscriptionDelete, APIRoot: sub.APIRoot, Collection: sub.Collection,
			Details: details(map[string]any{"before": sub.View()})})
		return c.NoContent(http.StatusNoContent)
	}))
	get(e, "/admin/subscriptions/:sub/deliveries", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		if err := onlyQuery(c, "limit"); err != nil {
			return err
		}
		limit := defaultDeliveries
		if v := c.QueryParam("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxDeliveries {
				return badField("limit", "must be an integer from 1 to %d", maxDeliveries)
			}
			limit = n
		}
		sub, err := s.ownSubscription(ctx, c.Param("sub"))
		if err != nil {
			return err
		}
		ds, err := w.Store.Deliveries(ctx, sub.ID, limit)
		if err != nil {
			return err
		}
		out := listView[webhook.DeliveryView]{Items: []webhook.DeliveryView{}}
		for _, d := range ds {
			out.Items = append(out.Items, d.View())
		}
		return reply(c, http.StatusOK)(out, nil)
	}))
	e.POST("/admin/subscriptions/:sub/deliveries/:delivery/redeliver", s.adminCall(func(c *echo.Context, ctx context.Context) error {
		if err := decodeOptionalBody(c, &struct{}{}); err != nil {
			return err
		}
		sub, err := s.ownSubscription(ctx, c.Param("sub"))
		if err != nil {
			return err
		}
		d, err := w.Redeliver(ctx, sub.ID, c.Param("delivery"))
		if err != nil {
			return err
		}
		s.record(c, authz.AuditEvent{Action: AuditSubscriptionRedeliver, APIRoot: sub.APIRoot, Collection: sub.Collection,
			Details: details(map[string]any{"subscription": sub.ID, "delivery": d.Redelivery, "after": d.View()})})
		return reply(c, http.StatusAccepted)(d.View(), nil)
	}))
}

// subscriber returns the requester if it may manage subscriptions: an
// admin, or a user of an organization.
func subscriber(ctx context.Context) (authz.Principal, error) {
	p, _ := authz.FromContext(ctx)
	if p.Anonymous() {
		return p, fmt.Errorf("%w: credentials are required", authz.ErrUnauthenticated)
	}
	if !p.IsAdmin() && p.OrganizationID == "" {
		return p, fmt.Errorf("%w: subscriptions belong to organizations, and you are in none", authz.ErrForbidden)
	}
	return p, nil
}

// ownSubscription returns a subscription the requester may manage; one of
// another organization is answered as missing.
func (s *Server) ownSubscription(ctx context.Context, id string) (webhook.Subscription, error) {
	p, err := subscriber(ctx)
	if err != nil {
		return webhook.Subscription{}, err
	}
	sub, err := s.webhooks.Store.Subscription(ctx, id)
	if err != nil {
		return sub, err
	}
	if !p.IsAdmin() && sub.Organization != p.OrganizationID {
		return webhook.Subscription{}, fmt.Errorf("%w: subscription %s", authz.ErrHidden, id)
	}
	return sub, nil
}

// onlyQuery refuses query parameters other than names, and any given
// twice.
func onlyQuery(c *echo.Context, names ...string) error {
	for k, vs := range c.QueryParams() {
		if !slices.Contains(names, k) {
			return badField(clip(k), "unknown query parameter")
		}
		if len(vs) > 1 {
			return badField(k, "given more than once")
		}
	}
	return nil
}

// WebhookAccess is the webhook.Access of an authorizer: an organization's
// own read grant, else the public one, decides what its subscriptions
// announce.
func WebhookAccess(az *authz.Authorizer) webhook.Access {
	return func(_ context.Context, org, apiRoot, collection string) (webhook.Conditions, bool) {
		c, ok := az.OrganizationConditions(org, apiRoot, collection)
		return webhook.Conditions{MaxTLP: c.MaxTLP, Embargo: c.Embargo}, ok
	}
}

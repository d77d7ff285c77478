package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections/webhook"
	"github.com/taxiid/taxiid/taxii"
)

// subscriptionVerbs are the verbs of `taxiid admin subscriptions`: they
// act on the store directly, as an operator, and audit each change as the
// admin API does.
func (c *adminCLI) subscriptionVerbs() map[string]adminVerb {
	return map[string]adminVerb{
		"list": func(fs *flag.FlagSet) func([]string) (any, error) {
			org := fs.String("org", "", "only the subscriptions of this organization")
			return func(pos []string) (any, error) {
				if err := wantArgs(pos, 0); err != nil {
					return nil, err
				}
				svc, err := c.webhookService(nil)
				if err != nil {
					return nil, err
				}
				ref := ""
				if *org != "" {
					ref = c.orgRef(*org)
				}
				subs, err := svc.Store.Subscriptions(c.ctx, ref)
				if err != nil {
					return nil, err
				}
				views, err := svc.Views(c.ctx, subs)
				return map[string]any{"items": views}, err
			}
		},
		"get": oneVerb(1, func(pos []string) (any, error) {
			svc, err := c.webhookService(nil)
			if err != nil {
				return nil, err
			}
			sub, err := svc.Store.Subscription(c.ctx, pos[0])
			if err != nil {
				return nil, err
			}
			views, err := svc.Views(c.ctx, []webhook.Subscription{sub})
			if err != nil {
				return nil, err
			}
			return views[0], nil
		}),
		"create": c.subscriptionCreate,
		"delete": oneVerb(1, func(pos []string) (any, error) {
			svc, err := c.webhookService(nil)
			if err != nil {
				return nil, err
			}
			sub, err := svc.Store.Subscription(c.ctx, pos[0])
			if err != nil {
				return nil, err
			}
			if err := svc.Store.DeleteSubscription(c.ctx, sub.ID); err != nil {
				return nil, err
			}
			return nil, c.auditSubscription(taxii.AuditSubscriptionDelete, sub, map[string]any{"before": sub.View()})
		}),
		"deliveries": func(fs *flag.FlagSet) func([]string) (any, error) {
			limit := fs.Int("limit", 50, "deliveries listed, newest first (at most 500)")
			return func(pos []string) (any, error) {
				if err := wantArgs(pos, 1); err != nil {
					return nil, err
				}
				if *limit < 1 || *limit > 500 {
					return nil, fmt.Errorf("--limit must be from 1 to 500")
				}
				svc, err := c.webhookService(nil)
				if err != nil {
					return nil, err
				}
				if _, err := svc.Store.Subscription(c.ctx, pos[0]); err != nil {
					return nil, err
				}
				ds, err := svc.Store.Deliveries(c.ctx, pos[0], *limit)
				if err != nil {
					return nil, err
				}
				views := []webhook.DeliveryView{}
				for _, d := range ds {
					views = append(views, d.View())
				}
				return map[string]any{"items": views}, nil
			}
		},
		"redeliver": oneVerb(2, func(pos []string) (any, error) {
			svc, err := c.webhookService(nil)
			if err != nil {
				return nil, err
			}
			sub, err := svc.Store.Subscription(c.ctx, pos[0])
			if err != nil {
				return nil, err
			}
			d, err := svc.Redeliver(c.ctx, sub.ID, pos[1])
			if err != nil {
				return nil, err
			}
			return d.View(), c.auditSubscription(taxii.AuditSubscriptionRedeliver, sub,
				map[string]any{"subscription": sub.ID, "delivery": d.Redelivery, "after": d.View()})
		}),
	}
}

func (c *adminCLI) subscriptionCreate(fs *flag.FlagSet) func([]string) (any, error) {
	org := fs.String("org", "", "organization (id or name) the subscription is for")
	root := fs.String("api-root", "", "API root path")
	coll := fs.String("collection", "", "collection id or alias")
	target := fs.String("url", "", "HTTPS URL notifications are sent to")
	allow := fs.String("webhook-allow-hosts", c.getenv("TAXIID_WEBHOOK_ALLOW_HOSTS"),
		"hosts the URL may name although internal or plain HTTP, as the server's flag (env TAXIID_WEBHOOK_ALLOW_HOSTS)")
	return func(pos []string) (any, error) {
		if err := wantArgs(pos, 0); err != nil {
			return nil, err
		}
		for name, v := range map[string]string{"org": *org, "api-root": *root, "collection": *coll, "url": *target} {
			if v == "" {
				return nil, fmt.Errorf("--%s is required", name)
			}
		}
		// What the organization may read comes from the policy in the
		// store, loaded once.
		logger := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		w := authz.NewWatcher(c.store, time.Hour, logger)
		az, err := authz.NewAuthorizer(c.store, w, logger)
		if err != nil {
			return nil, err
		}
		if err := w.Start(c.ctx); err != nil {
			return nil, err
		}
		defer w.Close()
		flags := webhookFlags{AllowHosts: *allow}
		svc, err := c.webhookService(&webhook.Guard{AllowHosts: flags.hosts()})
		if err != nil {
			return nil, err
		}
		svc.Access = taxii.WebhookAccess(az)
		sub, secret, err := svc.Subscribe(c.ctx, c.orgRef(*org), *root, c.collRef(*root, *coll), *target, "cli")
		if err != nil {
			return nil, err
		}
		v := sub.View()
		if err := c.auditSubscription(taxii.AuditSubscriptionCreate, sub, map[string]any{"after": v}); err != nil {
			return nil, err
		}
		v.Secret = secret
		return v, nil
	}
}

// webhookService is the webhook service of the store (Access unset: only
// creation needs it).
func (c *adminCLI) webhookService(guard *webhook.Guard) (*webhook.Service, error) {
	subs, ok := c.store.(webhook.Store)
	if !ok {
		return nil, fmt.Errorf("the store keeps no webhook subscriptions")
	}
	key, err := c.store.Secret(c.ctx, webhook.SealKeyName, webhook.NewSealKey)
	if err != nil {
		return nil, err
	}
	sealer, err := webhook.NewSealer(key)
	if err != nil {
		return nil, err
	}
	return &webhook.Service{Store: subs, Objects: c.store, Sealer: sealer, Guard: guard}, nil
}

// auditSubscription records a subscription change made by the operator.
func (c *adminCLI) auditSubscription(action string, sub webhook.Subscription, details map[string]any) error {
	p, _ := authz.FromContext(c.ctx)
	b, err := json.Marshal(details)
	if err != nil {
		return err
	}
	e := authz.AuditEvent{ID: authz.NewID(), Time: time.Now(), UserID: p.UserID, UserName: p.UserName,
		SourceAddress: authz.SourceAddress(c.ctx), Action: action, APIRoot: sub.APIRoot, Collection: sub.Collection, Details: b}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 30*time.Second)
	defer cancel()
	if err := c.store.AppendAudit(wctx, []authz.AuditEvent{e}); err != nil {
		return fmt.Errorf("change made but not audited: %w", err)
	}
	return nil
}

package webhook

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// SealKeyName is the name of the store secret (collections.Store.Secret)
// that seals subscription secrets: every replica on one store shares it.
const SealKeyName = "webhook-seal-key"

// NewSealKey returns a new random key for NewSealer.
func NewSealKey() ([]byte, error) {
	k := make([]byte, 32)
	_, err := rand.Read(k)
	return k, err
}

// Sealer encrypts subscription secrets at rest (AES-256-GCM). The key
// lives in the store's secrets, beside the subscriptions: sealing keeps a
// secret out of dumps and logs of the subscriptions alone, not from
// someone who reads the whole database.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns the sealer of a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("webhook: seal key of %d bytes, want 32", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: a}, nil
}

// Seal encrypts the secret of subscription id; the id is authenticated
// with it, so that a sealed secret moved to another subscription does not
// open.
func (s *Sealer) Seal(id, secret string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(secret)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, []byte(secret), []byte(id)), nil
}

// Open decrypts what Seal returned for subscription id.
func (s *Sealer) Open(id string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("webhook: sealed secret too short")
	}
	b, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(id))
	if err != nil {
		return "", fmt.Errorf("webhook: open sealed secret of %s: %w", id, err)
	}
	return string(b), nil
}

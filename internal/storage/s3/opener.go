package s3

import (
	"context"
	"fmt"
	"sync"

	"github.com/sparkify/lake/internal/storage"
)

// Opener opens the stores at s3:// URLs through one client, made on first use, so that a run that
// touches no S3 location needs no AWS configuration at all.
type Opener struct {
	cfg    Config
	mu     sync.Mutex
	client *Client
}

// NewOpener returns an Opener whose client will have the settings cfg.
func NewOpener(cfg Config) *Opener { return &Opener{cfg: cfg} }

// Open returns the store rooted at url; ctx serves to make the client, the first time.
func (o *Opener) Open(ctx context.Context, url string) (storage.Store, error) {
	if !IsURL(url) {
		return nil, fmt.Errorf("%s: %w (use a local path or s3://)", url, ErrBadURL)
	}
	u, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.client == nil {
		if o.client, err = NewClient(ctx, o.cfg); err != nil {
			return nil, err
		}
	}
	return o.client.Store(u), nil
}

// Requests returns the requests made so far by operation (Client.Requests); none before the
// first Open.
func (o *Opener) Requests() map[string]int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.client == nil {
		return nil
	}
	return o.client.Requests()
}

// Retries returns the requests the client retried; 0 when it was never made.
func (o *Opener) Retries() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.client == nil {
		return 0
	}
	return o.client.Retries()
}

package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Scan types and frequencies, spelled as ECR's ScanType and ScanFrequency.
const (
	TypeBasic    = "BASIC"
	TypeEnhanced = "ENHANCED"

	ScanOnPush     = "SCAN_ON_PUSH"
	ContinuousScan = "CONTINUOUS_SCAN"
	Manual         = "MANUAL"

	FilterWildcard = "WILDCARD"
)

// configSetting is the account setting holding an account's registry
// scanning configuration (meta.ECRStore account settings). The name is not
// one of ECR's PutAccountSetting names, so the API cannot set it directly.
const configSetting = "wharf.registry-scanning-configuration"

// Filter is a repository filter of a scanning rule.
type Filter struct {
	Filter     string `json:"filter"`
	FilterType string `json:"filterType"`
}

// Matches reports whether the filter selects the repository name, as ECR
// documents scanning filters: '*' stands for any run of characters
// (slashes included); a filter without '*' matches every name containing
// it.
func (f Filter) Matches(name string) bool {
	if !strings.Contains(f.Filter, "*") {
		return strings.Contains(name, f.Filter)
	}
	return wildcard(f.Filter, name)
}

// wildcard matches name against pattern, where '*' matches any run of
// characters, in linear time (greedy with backtracking to the last star).
func wildcard(pattern, name string) bool {
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && pattern[p] == name[n]:
			p++
			n++
		case star >= 0:
			p, mark = star+1, mark+1
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// Rule is a registry scanning rule: a frequency for the repositories its
// filters select.
type Rule struct {
	ScanFrequency     string   `json:"scanFrequency"`
	RepositoryFilters []Filter `json:"repositoryFilters"`
}

// Config is an account's registry scanning configuration.
type Config struct {
	ScanType string `json:"scanType"`
	Rules    []Rule `json:"rules"`
}

// DefaultConfig is the configuration of an account that never set one:
// basic scanning, no rules (each repository's scanOnPush decides).
func DefaultConfig() Config { return Config{ScanType: TypeBasic, Rules: []Rule{}} }

// ErrInvalidConfig marks a configuration ECR would refuse; the message says
// why, worded for InvalidParameterException.
var ErrInvalidConfig = errors.New("invalid registry scanning configuration")

func invalidConfig(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
}

// Validate checks what the model's constraints do not: the frequencies a
// scan type supports (CONTINUOUS_SCAN is enhanced scanning's, MANUAL is not
// a rule's frequency under enhanced scanning), one rule per frequency, and
// filter types. Empty ScanType means BASIC, as ECR defaults it.
func (c *Config) Validate() error {
	if c.ScanType == "" {
		c.ScanType = TypeBasic
	}
	if c.Rules == nil {
		c.Rules = []Rule{}
	}
	if c.ScanType != TypeBasic && c.ScanType != TypeEnhanced {
		return invalidConfig("Invalid parameter at 'scanType' failed to satisfy constraint: 'Member must satisfy enum value set: [BASIC, ENHANCED]'")
	}
	seen := map[string]bool{}
	for i, r := range c.Rules {
		switch {
		case r.ScanFrequency == ContinuousScan && c.ScanType == TypeBasic:
			return invalidConfig("Invalid parameter at 'rules[%d].scanFrequency': CONTINUOUS_SCAN is supported only with the ENHANCED scan type", i)
		case r.ScanFrequency == Manual && c.ScanType == TypeEnhanced:
			return invalidConfig("Invalid parameter at 'rules[%d].scanFrequency': MANUAL is not supported with the ENHANCED scan type; the supported scan frequencies are SCAN_ON_PUSH and CONTINUOUS_SCAN", i)
		case r.ScanFrequency != ScanOnPush && r.ScanFrequency != ContinuousScan && r.ScanFrequency != Manual:
			return invalidConfig("Invalid parameter at 'rules[%d].scanFrequency' failed to satisfy constraint: 'Member must satisfy enum value set: [SCAN_ON_PUSH, CONTINUOUS_SCAN, MANUAL]'", i)
		case seen[r.ScanFrequency]:
			return invalidConfig("Invalid parameter at 'rules': only one rule per scan frequency is allowed; %s is given more than once", r.ScanFrequency)
		case len(r.RepositoryFilters) == 0:
			return invalidConfig("Invalid parameter at 'rules[%d].repositoryFilters': at least one repository filter is required", i)
		}
		seen[r.ScanFrequency] = true
		for j, f := range r.RepositoryFilters {
			if f.FilterType != FilterWildcard {
				return invalidConfig("Invalid parameter at 'rules[%d].repositoryFilters[%d].filterType' failed to satisfy constraint: 'Member must satisfy enum value set: [WILDCARD]'", i, j)
			}
			if f.Filter == "" {
				return invalidConfig("Invalid parameter at 'rules[%d].repositoryFilters[%d].filter': the filter must not be empty", i, j)
			}
		}
	}
	return nil
}

// RepoSetting is how a repository is scanned under a configuration (ECR's
// RepositoryScanningConfiguration).
type RepoSetting struct {
	// ScanFrequency is SCAN_ON_PUSH, CONTINUOUS_SCAN or MANUAL.
	ScanFrequency string
	// ScanOnPush is whether a push queues a scan.
	ScanOnPush bool
	// AppliedFilters are the filters of the rule that applies.
	AppliedFilters []Filter
}

// For returns the setting of a repository. A rule applies when one of its
// filters matches the name; CONTINUOUS_SCAN wins over SCAN_ON_PUSH, as ECR
// documents. Under basic scanning without a matching rule the repository's
// own scanOnPush flag decides (the API ECR deprecated in favour of rules).
func (c Config) For(r meta.Repository) RepoSetting {
	match := func(freq string) ([]Filter, bool) {
		for _, rule := range c.Rules {
			if rule.ScanFrequency != freq {
				continue
			}
			var applied []Filter
			for _, f := range rule.RepositoryFilters {
				if f.Matches(r.Name) {
					applied = append(applied, f)
				}
			}
			return applied, len(applied) > 0
		}
		return nil, false
	}
	if c.ScanType == TypeEnhanced {
		if fs, ok := match(ContinuousScan); ok {
			return RepoSetting{ScanFrequency: ContinuousScan, ScanOnPush: true, AppliedFilters: fs}
		}
	}
	if fs, ok := match(ScanOnPush); ok {
		return RepoSetting{ScanFrequency: ScanOnPush, ScanOnPush: true, AppliedFilters: fs}
	}
	if c.ScanType == TypeBasic && r.ScanOnPush {
		return RepoSetting{ScanFrequency: ScanOnPush, ScanOnPush: true}
	}
	return RepoSetting{ScanFrequency: Manual}
}

// Continuous reports whether the repository's images are re-matched when
// the vulnerability data changes.
func (c Config) Continuous(r meta.Repository) bool {
	return c.For(r).ScanFrequency == ContinuousScan
}

// HasContinuous reports whether any repository can be under continuous
// scanning.
func (c Config) HasContinuous() bool {
	if c.ScanType != TypeEnhanced {
		return false
	}
	for _, r := range c.Rules {
		if r.ScanFrequency == ContinuousScan {
			return true
		}
	}
	return false
}

// LoadConfig reads an account's configuration (DefaultConfig when never
// set).
func LoadConfig(ctx context.Context, st meta.ECRStore, accountID string) (Config, error) {
	v, err := st.GetAccountSetting(ctx, accountID, configSetting)
	if errors.Is(err, meta.ErrNotFound) {
		return DefaultConfig(), nil
	}
	if err != nil {
		return Config{}, err
	}
	var c Config
	if err := json.Unmarshal([]byte(v), &c); err != nil {
		return Config{}, fmt.Errorf("scan: stored scanning configuration of %s: %w", accountID, err)
	}
	if c.ScanType == "" {
		c.ScanType = TypeBasic
	}
	if c.Rules == nil {
		c.Rules = []Rule{}
	}
	return c, nil
}

// SaveConfig validates and stores an account's configuration.
func SaveConfig(ctx context.Context, st meta.ECRStore, accountID string, c Config) (Config, error) {
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return Config{}, err
	}
	return c, st.PutAccountSetting(ctx, accountID, configSetting, string(b))
}

// configCache caches configurations by account for a short time: a push
// reads its account's on every manifest, and a change made on another node
// is seen within the TTL.
type configCache struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]cachedConfig
}

type cachedConfig struct {
	c  Config
	at time.Time
}

func (cc *configCache) get(account string, now time.Time) (Config, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	e, ok := cc.m[account]
	if !ok || now.Sub(e.at) > cc.ttl {
		return Config{}, false
	}
	return e.c, true
}

func (cc *configCache) put(account string, c Config, now time.Time) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.m == nil || len(cc.m) > 10000 {
		cc.m = map[string]cachedConfig{}
	}
	cc.m[account] = cachedConfig{c: c, at: now}
}

func (cc *configCache) drop(account string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	delete(cc.m, account)
}

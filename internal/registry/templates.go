package registry

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/wharfhq/wharf/internal/access"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Repository creation templates are ECR's way of giving the repositories it
// creates on a client's behalf (on push, by replication, by pull through
// cache) settings other than the defaults. Templates are kept in the
// metadata store (meta.CreationTemplate) with the ECR API's
// RepositoryCreationTemplate shape as their JSON body; the core reads the
// members it applies and ignores the rest.

// Template prefixes and scenarios, as ECR names them.
const (
	// RootTemplatePrefix is the prefix of the template that applies to every
	// repository no other template matches.
	RootTemplatePrefix = "ROOT"
	// AppliedForCreateOnPush marks a template used when a push creates a
	// repository.
	AppliedForCreateOnPush = "CREATE_ON_PUSH"
	// TemplateRegionMember is the (Wharf-specific) member of a template body
	// holding the region whose ARNs the template's resource tags are put on;
	// the core does not otherwise know the region it serves.
	TemplateRegionMember = "wharfRegion"
)

// templateSettings is what the core applies of a template body.
type templateSettings struct {
	AppliedFor                         []string          `json:"appliedFor"`
	ImageTagMutability                 string            `json:"imageTagMutability"`
	ImageTagMutabilityExclusionFilters []ExclusionFilter `json:"imageTagMutabilityExclusionFilters"`
	EncryptionConfiguration            *struct {
		EncryptionType string `json:"encryptionType"`
		KMSKey         string `json:"kmsKey"`
	} `json:"encryptionConfiguration"`
	ResourceTags []struct {
		Key   string `json:"Key"`
		Value string `json:"Value"`
	} `json:"resourceTags"`
	RepositoryPolicy string `json:"repositoryPolicy"`
	Region           string `json:"wharfRegion"`
}

// TemplatePrefixMatches reports whether a template prefix covers a
// repository name: ROOT covers every name, and any other prefix is taken
// with an implied trailing '/' ("prod" covers "prod/api", not "production").
func TemplatePrefixMatches(prefix, name string) bool {
	if prefix == RootTemplatePrefix {
		return true
	}
	p := strings.TrimSuffix(prefix, "/") + "/"
	return strings.HasPrefix(name, p)
}

// MatchCreationTemplate picks, among templates applied for the scenario,
// the one whose prefix is the longest that covers name, ROOT last; ok is
// false when none does.
func MatchCreationTemplate(templates []meta.CreationTemplate, name, appliedFor string) (t meta.CreationTemplate, ok bool) {
	best := -1
	for _, c := range templates {
		if !TemplatePrefixMatches(c.Prefix, name) {
			continue
		}
		var st templateSettings
		if json.Unmarshal(c.Body, &st) != nil || !slices.Contains(st.AppliedFor, appliedFor) {
			continue
		}
		n := len(strings.TrimSuffix(c.Prefix, "/"))
		if c.Prefix == RootTemplatePrefix {
			n = 0
		}
		if n > best {
			t, ok, best = c, true, n
		}
	}
	return t, ok
}

// createOnPush creates the repository a push addresses, with the settings
// of the account's creation template for CREATE_ON_PUSH that covers the
// name, if any (tag mutability and its filters, encryption, repository
// policy and resource tags), else with the defaults.
func (s *Service) createOnPush(ctx context.Context, accountID, name string) (meta.Repository, error) {
	r := meta.Repository{AccountID: accountID, Name: name}
	templates, err := s.meta.ListCreationTemplates(ctx, accountID)
	if err != nil {
		return meta.Repository{}, err
	}
	t, ok := MatchCreationTemplate(templates, name, AppliedForCreateOnPush)
	if !ok {
		return s.CreateRepository(ctx, r)
	}
	var st templateSettings
	if err := json.Unmarshal(t.Body, &st); err != nil {
		return meta.Repository{}, err
	}
	r.TagMutability = st.ImageTagMutability
	if r.TagMutability == ImmutableWithExclusion || r.TagMutability == MutableWithExclusion {
		r.MutabilityRule = EncodeExclusionFilters(st.ImageTagMutabilityExclusionFilters)
	}
	if e := st.EncryptionConfiguration; e != nil {
		r.EncryptionType, r.KMSKey = e.EncryptionType, e.KMSKey
	}
	r.Policy = st.RepositoryPolicy
	r, err = s.CreateRepository(ctx, r)
	if err != nil {
		return meta.Repository{}, err
	}
	if len(st.ResourceTags) > 0 && st.Region != "" {
		tags := make(map[string]string, len(st.ResourceTags))
		for _, tag := range st.ResourceTags {
			tags[tag.Key] = tag.Value
		}
		arn := access.Resource{Region: st.Region, AccountID: accountID, Repository: name}.ARN()
		if err := s.PutResourceTags(ctx, arn, tags); err != nil {
			return meta.Repository{}, err
		}
	}
	return r, nil
}

package ecr

import (
	"context"
	"errors"
	"github.com/wharfhq/wharf/internal/access"
	"github.com/wharfhq/wharf/internal/policy"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Repository operations: create, describe, delete, settings and resource
// tags.

// constraintError is ECR's InvalidParameterException for a member that
// fails a constraint the service model does not express.
func constraintError(member, constraint string) error {
	return ecrapi.NewInvalidParameterException("Invalid parameter at '" + member + "' failed to satisfy constraint: '" + constraint + "'")
}

// defaultDescribeRepositories is how many repositories DescribeRepositories
// returns without maxResults.
const defaultDescribeRepositories = 100

// CreateRepository creates a repository with the given settings and tags.
func (s *Server) CreateRepository(ctx context.Context, in *ecrapi.CreateRepositoryInput) (*ecrapi.CreateRepositoryOutput, error) {
	account := registryID(ctx, in.RegistryId)
	name := ecrapi.Deref(in.RepositoryName)
	if err := s.authorize(withRequestTags(ctx, in.Tags, nil), account, name, "ecr:CreateRepository"); err != nil {
		return nil, err
	}
	mut, rule, err := tagMutability(in.ImageTagMutability, in.ImageTagMutabilityExclusionFilters)
	if err != nil {
		return nil, err
	}
	encType, kmsKey, err := encryption(in.EncryptionConfiguration)
	if err != nil {
		return nil, err
	}
	tags, err := checkTags(in.Tags)
	if err != nil {
		return nil, err
	}
	if len(tags) > maxTags {
		return nil, tooManyTags()
	}
	r := meta.Repository{
		AccountID:      account,
		Name:           name,
		TagMutability:  mut,
		MutabilityRule: rule,
		EncryptionType: encType,
		KMSKey:         kmsKey,
	}
	if c := in.ImageScanningConfiguration; c != nil {
		r.ScanOnPush = ecrapi.Deref(c.ScanOnPush)
	}
	r, err = s.Registry.CreateRepository(ctx, r)
	if errors.Is(err, meta.ErrExists) {
		return nil, ecrapi.NewRepositoryAlreadyExistsException("The repository with name '" + name + "' already exists in the registry with id '" + account + "'")
	}
	if err != nil {
		return nil, err
	}
	if len(tags) > 0 {
		if err := s.Registry.PutResourceTags(ctx, s.repoARN(account, name), tags); err != nil {
			return nil, err
		}
	}
	repo := s.apiRepository(ctx, r)
	return &ecrapi.CreateRepositoryOutput{Repository: &repo}, nil
}

// repoPage is the state of a DescribeRepositories nextToken.
type repoPage struct {
	Op      string `json:"op"`
	Account string `json:"account"`
	Last    string `json:"last"`
}

// DescribeRepositories describes the named repositories, or a page of all
// the repositories of the registry the caller may describe.
func (s *Server) DescribeRepositories(ctx context.Context, in *ecrapi.DescribeRepositoriesInput) (*ecrapi.DescribeRepositoriesOutput, error) {
	account := registryID(ctx, in.RegistryId)
	const action = "ecr:DescribeRepositories"
	out := &ecrapi.DescribeRepositoriesOutput{Repositories: []ecrapi.Repository{}}
	if in.RepositoryNames != nil {
		if in.MaxResults != nil {
			return nil, constraintError("maxResults", "maxResults cannot be specified with repositoryNames")
		}
		if in.NextToken != nil {
			return nil, constraintError("nextToken", "nextToken cannot be specified with repositoryNames")
		}
		seen := map[string]bool{}
		for _, n := range in.RepositoryNames {
			if seen[n] {
				continue
			}
			seen[n] = true
			r, _, err := s.repository(ctx, ecrapi.Ptr(account), ecrapi.Ptr(n), action)
			if err != nil {
				return nil, err
			}
			out.Repositories = append(out.Repositories, s.apiRepository(ctx, r))
		}
		return out, nil
	}

	limit := defaultDescribeRepositories
	if in.MaxResults != nil {
		limit = int(*in.MaxResults)
	}
	var last string
	if in.NextToken != nil {
		var st repoPage
		if err := s.Pager.Decode(*in.NextToken, &st); err != nil {
			return nil, err
		}
		if st.Op != "DescribeRepositories" || st.Account != account {
			return nil, awsjson.ErrInvalidNextToken
		}
		last = st.Last
	}
	// Repositories the caller may not describe are left out, so read in
	// batches until the page is full or the registry exhausted.
	const batch = 100
	for {
		repos, err := s.Meta.ListRepositories(ctx, account, last, batch)
		if err != nil {
			return nil, err
		}
		for _, r := range repos {
			if len(out.Repositories) == limit {
				// Full, with more to come (perhaps none the caller may see).
				out.NextToken = ecrapi.Ptr(s.Pager.Encode(repoPage{"DescribeRepositories", account, last}))
				return out, nil
			}
			last = r.Name
			if err := s.authorize(ctx, account, r.Name, action); err != nil {
				if isAccessDenied(err) {
					continue
				}
				return nil, err
			}
			out.Repositories = append(out.Repositories, s.apiRepository(ctx, r))
		}
		if len(repos) < batch {
			return out, nil
		}
	}
}

// isAccessDenied reports whether err is the AccessDeniedException of
// s.authorize.
func isAccessDenied(err error) bool {
	type coder interface{ ErrorCode() string }
	var c coder
	return errors.As(err, &c) && c.ErrorCode() == "AccessDeniedException"
}

// DeleteRepository deletes a repository (with force, its images too) and its
// resource tags, returning what was deleted.
func (s *Server) DeleteRepository(ctx context.Context, in *ecrapi.DeleteRepositoryInput) (*ecrapi.DeleteRepositoryOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:DeleteRepository")
	if err != nil {
		return nil, err
	}
	err = s.Registry.DeleteRepository(ctx, r, ecrapi.Deref(in.Force))
	switch {
	case errors.Is(err, meta.ErrNotEmpty):
		return nil, ecrapi.NewRepositoryNotEmptyException("The repository with name '" + r.Name + "' in registry with id '" + account + "' cannot be deleted because it still contains images")
	case errors.Is(err, meta.ErrNotFound):
		return nil, repoNotFound(account, r.Name)
	case err != nil:
		return nil, err
	}
	if err := s.dropResourceTags(ctx, s.repoARN(account, r.Name)); err != nil {
		return nil, err
	}
	repo := s.apiRepository(ctx, r)
	return &ecrapi.DeleteRepositoryOutput{Repository: &repo}, nil
}

// dropResourceTags removes every tag of a resource.
func (s *Server) dropResourceTags(ctx context.Context, arn string) error {
	tags, err := s.Meta.ListResourceTags(ctx, arn)
	if err != nil || len(tags) == 0 {
		return err
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	return s.Registry.DeleteResourceTags(ctx, arn, keys)
}

// PutImageTagMutability sets a repository's tag mutability and exclusion
// filters.
func (s *Server) PutImageTagMutability(ctx context.Context, in *ecrapi.PutImageTagMutabilityInput) (*ecrapi.PutImageTagMutabilityOutput, error) {
	mut, rule, err := tagMutability(in.ImageTagMutability, in.ImageTagMutabilityExclusionFilters)
	if err != nil {
		return nil, err
	}
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:PutImageTagMutability")
	if err != nil {
		return nil, err
	}
	r.TagMutability, r.MutabilityRule = mut, rule
	if err := s.updateRepository(ctx, r); err != nil {
		return nil, err
	}
	m := ecrapi.ImageTagMutability(mut)
	return &ecrapi.PutImageTagMutabilityOutput{
		RegistryId:                         ecrapi.Ptr(account),
		RepositoryName:                     ecrapi.Ptr(r.Name),
		ImageTagMutability:                 &m,
		ImageTagMutabilityExclusionFilters: decodeExclusionFilters(rule),
	}, nil
}

// PutImageScanningConfiguration sets a repository's scan-on-push flag.
func (s *Server) PutImageScanningConfiguration(ctx context.Context, in *ecrapi.PutImageScanningConfigurationInput) (*ecrapi.PutImageScanningConfigurationOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:PutImageScanningConfiguration")
	if err != nil {
		return nil, err
	}
	if c := in.ImageScanningConfiguration; c != nil {
		r.ScanOnPush = ecrapi.Deref(c.ScanOnPush)
	}
	if err := s.updateRepository(ctx, r); err != nil {
		return nil, err
	}
	return &ecrapi.PutImageScanningConfigurationOutput{
		RegistryId:                 ecrapi.Ptr(account),
		RepositoryName:             ecrapi.Ptr(r.Name),
		ImageScanningConfiguration: &ecrapi.ImageScanningConfiguration{ScanOnPush: ecrapi.Ptr(r.ScanOnPush)},
	}, nil
}

// updateRepository writes a repository's settings through the core (which
// refreshes its cache), answering RepositoryNotFoundException when it went
// meanwhile.
func (s *Server) updateRepository(ctx context.Context, r meta.Repository) error {
	err := s.Registry.UpdateRepository(ctx, r)
	if errors.Is(err, meta.ErrNotFound) {
		return repoNotFound(r.AccountID, r.Name)
	}
	return err
}

// TagResource adds or overwrites tags of a repository.
func (s *Server) TagResource(ctx context.Context, in *ecrapi.TagResourceInput) (*ecrapi.TagResourceOutput, error) {
	arn, _, err := s.taggedRepository(withRequestTags(ctx, in.Tags, nil), ecrapi.Deref(in.ResourceArn), "ecr:TagResource")
	if err != nil {
		return nil, err
	}
	tags, err := checkTags(in.Tags)
	if err != nil {
		return nil, err
	}
	have, err := s.Meta.ListResourceTags(ctx, arn)
	if err != nil {
		return nil, err
	}
	n := len(have)
	for k := range tags {
		if _, ok := have[k]; !ok {
			n++
		}
	}
	if n > maxTags {
		return nil, tooManyTags()
	}
	if err := s.Registry.PutResourceTags(ctx, arn, tags); err != nil {
		return nil, err
	}
	return &ecrapi.TagResourceOutput{}, nil
}

// UntagResource removes tags of a repository; absent keys are ignored.
func (s *Server) UntagResource(ctx context.Context, in *ecrapi.UntagResourceInput) (*ecrapi.UntagResourceOutput, error) {
	arn, _, err := s.taggedRepository(withRequestTags(ctx, nil, in.TagKeys), ecrapi.Deref(in.ResourceArn), "ecr:UntagResource")
	if err != nil {
		return nil, err
	}
	for _, k := range in.TagKeys {
		if err := checkTagKey(k); err != nil {
			return nil, err
		}
	}
	if err := s.Registry.DeleteResourceTags(ctx, arn, in.TagKeys); err != nil {
		return nil, err
	}
	return &ecrapi.UntagResourceOutput{}, nil
}

// ListTagsForResource lists the tags of a repository, by key.
func (s *Server) ListTagsForResource(ctx context.Context, in *ecrapi.ListTagsForResourceInput) (*ecrapi.ListTagsForResourceOutput, error) {
	arn, _, err := s.taggedRepository(ctx, ecrapi.Deref(in.ResourceArn), "ecr:ListTagsForResource")
	if err != nil {
		return nil, err
	}
	tags, err := s.Meta.ListResourceTags(ctx, arn)
	if err != nil {
		return nil, err
	}
	return &ecrapi.ListTagsForResourceOutput{Tags: apiTags(tags)}, nil
}

// taggedRepository resolves the resourceArn of a tagging operation: a
// repository ARN of this region, of an existing repository the caller may
// act on. It returns the canonical ARN.
func (s *Server) taggedRepository(ctx context.Context, arn, action string) (string, meta.Repository, error) {
	account, name, ok := s.parseRepoARN(arn)
	if !ok || !accountRe.MatchString(account) || !names.ValidRepository(name) {
		return "", meta.Repository{}, constraintError("resourceArn", "Invalid ARN: '"+arn+"' is not a repository ARN of region "+s.Region)
	}
	r, _, err := s.repository(ctx, &account, &name, action)
	if err != nil {
		return "", meta.Repository{}, err
	}
	return s.repoARN(account, name), r, nil
}

var accountRe = regexp.MustCompile(`^[0-9]{12}$`)

// apiTags maps stored tags to ECR's list, by key.
func apiTags(tags map[string]string) []ecrapi.Tag {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]ecrapi.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, ecrapi.Tag{Key: ecrapi.Ptr(k), Value: ecrapi.Ptr(tags[k])})
	}
	return out
}

// Tag rules, as AWS applies them to ECR repositories.
const (
	maxTags        = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// tagChars are the characters AWS allows in tag keys and values: letters,
// digits, spaces and _ . : / = + - @.
var tagChars = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

func tooManyTags() error {
	return ecrapi.NewTooManyTagsException("The number of tags on the repository exceeds the limit of " + strconv.Itoa(maxTags) + " tags")
}

func checkTagKey(k string) error {
	switch {
	case k == "" || utf8.RuneCountInString(k) > maxTagKeyLen:
		return ecrapi.NewInvalidTagParameterException("Tag key '" + k + "' is invalid: tag keys must be between 1 and " + strconv.Itoa(maxTagKeyLen) + " characters long")
	case !tagChars.MatchString(k):
		return ecrapi.NewInvalidTagParameterException("Tag key '" + k + "' is invalid: tag keys may only contain letters, numbers, spaces and the characters _ . : / = + - @")
	case strings.HasPrefix(strings.ToLower(k), "aws:"):
		return ecrapi.NewInvalidTagParameterException("Tag key '" + k + "' is invalid: tag keys starting with 'aws:' are reserved for AWS use")
	}
	return nil
}

// checkTags validates tags (ECR's rules: key 1-128 and value 0-256
// characters of the allowed set, no aws: prefix, no key twice) and returns
// them as a map. The limit of 50 per repository is the caller's to check.
func checkTags(tags []ecrapi.Tag) (map[string]string, error) {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		k, v := ecrapi.Deref(t.Key), ecrapi.Deref(t.Value)
		if err := checkTagKey(k); err != nil {
			return nil, err
		}
		if utf8.RuneCountInString(v) > maxTagValueLen {
			return nil, ecrapi.NewInvalidTagParameterException("Tag value of key '" + k + "' is invalid: tag values can be at most " + strconv.Itoa(maxTagValueLen) + " characters long")
		}
		if !tagChars.MatchString(v) {
			return nil, ecrapi.NewInvalidTagParameterException("Tag value of key '" + k + "' is invalid: tag values may only contain letters, numbers, spaces and the characters _ . : / = + - @")
		}
		if _, dup := m[k]; dup {
			return nil, ecrapi.NewInvalidTagParameterException("Tag key '" + k + "' is given more than once")
		}
		m[k] = v
	}
	return m, nil
}

// tagMutability checks a tag mutability setting with its exclusion filters
// (the *_WITH_EXCLUSION settings need filters, the others forbid them) and
// returns the setting (MUTABLE when absent) and the filters encoded for
// meta.Repository.MutabilityRule.
func tagMutability(m *ecrapi.ImageTagMutability, filters []ecrapi.ImageTagMutabilityExclusionFilter) (string, string, error) {
	mut := registry.Mutable
	if m != nil {
		mut = string(*m)
	}
	switch mut {
	case registry.ImmutableWithExclusion, registry.MutableWithExclusion:
		if len(filters) == 0 {
			return "", "", constraintError("imageTagMutabilityExclusionFilters", "ImageTagMutabilityExclusionFilters can't be null when imageTagMutability is set as "+mut)
		}
	default:
		if len(filters) > 0 {
			return "", "", constraintError("imageTagMutabilityExclusionFilters", "ImageTagMutabilityExclusionFilters can only be specified when imageTagMutability is set as IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION")
		}
	}
	for _, f := range filters {
		if strings.Count(ecrapi.Deref(f.Filter), "*") > 2 {
			return "", "", constraintError("imageTagMutabilityExclusionFilters.filter", "A filter can contain at most 2 wildcards (*): '"+ecrapi.Deref(f.Filter)+"'")
		}
	}
	return mut, encodeExclusionFilters(filters), nil
}

// encryption checks an encryption configuration: AES256 when absent; a KMS
// key only with KMS or KMS_DSSE.
func encryption(c *ecrapi.EncryptionConfiguration) (typ, key string, err error) {
	if c == nil || c.EncryptionType == nil {
		if c != nil && c.KmsKey != nil {
			return "", "", constraintError("encryptionConfiguration.kmsKey", "kmsKey can only be specified when encryptionType is KMS or KMS_DSSE")
		}
		return string(ecrapi.EncryptionTypeAes256), "", nil
	}
	typ, key = string(*c.EncryptionType), ecrapi.Deref(c.KmsKey)
	if typ == string(ecrapi.EncryptionTypeAes256) && key != "" {
		return "", "", constraintError("encryptionConfiguration.kmsKey", "kmsKey can only be specified when encryptionType is KMS or KMS_DSSE")
	}
	return typ, key, nil
}

// withRequestTags exposes the tags a request sets (aws:RequestTag/<key>)
// and the tag keys it names (aws:TagKeys) to policy conditions.
func withRequestTags(ctx context.Context, tags []ecrapi.Tag, keys []string) context.Context {
	if len(tags) == 0 && len(keys) == 0 {
		return ctx
	}
	c := policy.Context{}
	for _, t := range tags {
		k := ecrapi.Deref(t.Key)
		c.Set("aws:RequestTag/"+k, ecrapi.Deref(t.Value))
		keys = append(keys, k)
	}
	c.Set("aws:TagKeys", keys...)
	return access.WithRequestContext(ctx, c)
}

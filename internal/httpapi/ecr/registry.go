package ecr

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Registry-level operations: the registry description, account settings
// and repository creation templates. They act on the caller's own registry
// (the registry ARN is the resource authorized).

// DescribeRegistry describes the caller's registry. Replication is not
// supported, so its configuration has no rules.
func (s *Server) DescribeRegistry(ctx context.Context, _ *ecrapi.DescribeRegistryInput) (*ecrapi.DescribeRegistryOutput, error) {
	account, err := s.authorizeOwnRegistry(ctx, "ecr:DescribeRegistry")
	if err != nil {
		return nil, err
	}
	return &ecrapi.DescribeRegistryOutput{
		RegistryId:               ecrapi.Ptr(account),
		ReplicationConfiguration: &ecrapi.ReplicationConfiguration{Rules: []ecrapi.ReplicationRule{}},
	}, nil
}

// accountSetting is a setting ECR knows, its values and its default.
type accountSetting struct {
	values []string
	def    string
}

// accountSettings are the settings of PutAccountSetting and
// GetAccountSetting, with the values ECR documents. Defaults are those of a
// new registry: AWS native basic scanning, the V2 registry policy scope,
// blob mounting off. Wharf stores them; the registry policy applies to
// every action whatever the scope (V2 semantics).
var accountSettings = map[string]accountSetting{
	"BASIC_SCAN_TYPE_VERSION": {values: []string{"AWS_NATIVE", "CLAIR"}, def: "AWS_NATIVE"},
	"REGISTRY_POLICY_SCOPE":   {values: []string{"V1", "V2"}, def: "V2"},
	"BLOB_MOUNTING":           {values: []string{"ENABLED", "DISABLED"}, def: "DISABLED"},
}

func lookupAccountSetting(name string) (accountSetting, error) {
	st, ok := accountSettings[name]
	if !ok {
		known := make([]string, 0, len(accountSettings))
		for k := range accountSettings {
			known = append(known, k)
		}
		slices.Sort(known)
		return st, constraintError("name", "Account setting name '"+name+"' is not valid; valid names are "+strings.Join(known, ", "))
	}
	return st, nil
}

// GetAccountSetting returns an account setting, its default when never set.
func (s *Server) GetAccountSetting(ctx context.Context, in *ecrapi.GetAccountSettingInput) (*ecrapi.GetAccountSettingOutput, error) {
	account, err := s.authorizeOwnRegistry(ctx, "ecr:GetAccountSetting")
	if err != nil {
		return nil, err
	}
	name := ecrapi.Deref(in.Name)
	st, err := lookupAccountSetting(name)
	if err != nil {
		return nil, err
	}
	v, err := s.Meta.GetAccountSetting(ctx, account, name)
	if errors.Is(err, meta.ErrNotFound) {
		v, err = st.def, nil
	}
	if err != nil {
		return nil, err
	}
	return &ecrapi.GetAccountSettingOutput{Name: ecrapi.Ptr(name), Value: ecrapi.Ptr(v)}, nil
}

// PutAccountSetting sets an account setting to one of its values.
func (s *Server) PutAccountSetting(ctx context.Context, in *ecrapi.PutAccountSettingInput) (*ecrapi.PutAccountSettingOutput, error) {
	account, err := s.authorizeOwnRegistry(ctx, "ecr:PutAccountSetting")
	if err != nil {
		return nil, err
	}
	name, v := ecrapi.Deref(in.Name), ecrapi.Deref(in.Value)
	st, err := lookupAccountSetting(name)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(st.values, v) {
		return nil, constraintError("value", "Value '"+v+"' is not valid for account setting "+name+"; valid values are "+strings.Join(st.values, ", "))
	}
	if err := s.Meta.PutAccountSetting(ctx, account, name, v); err != nil {
		return nil, err
	}
	return &ecrapi.PutAccountSettingOutput{Name: ecrapi.Ptr(name), Value: ecrapi.Ptr(v)}, nil
}

// Repository creation templates are stored as meta.CreationTemplate whose
// body is the ECR RepositoryCreationTemplate shape (prefix and times are
// the store's columns) plus the region its resource tags are for, which the
// core needs to tag the repositories it creates (registry/templates.go;
// the member is registry.TemplateRegionMember).
type templateBody struct {
	ecrapi.RepositoryCreationTemplate
	Region string `json:"wharfRegion,omitempty"`
}

// templateSpec is the settings of a create or update request.
type templateSpec struct {
	Description             *string
	EncryptionConfiguration *ecrapi.EncryptionConfigurationForRepositoryCreationTemplate
	ResourceTags            []ecrapi.Tag
	ImageTagMutability      *ecrapi.ImageTagMutability
	ExclusionFilters        []ecrapi.ImageTagMutabilityExclusionFilter
	RepositoryPolicy        *string
	LifecyclePolicy         *string
	AppliedFor              []ecrapi.RCTAppliedFor
	CustomRoleArn           *string
}

// checkTemplate validates a template's settings, filling in ECR's
// defaults (MUTABLE, AES256).
func checkTemplate(t *ecrapi.RepositoryCreationTemplate) error {
	if len(t.AppliedFor) == 0 {
		return constraintError("appliedFor", "appliedFor must contain at least one of REPLICATION, PULL_THROUGH_CACHE, CREATE_ON_PUSH")
	}
	mut, _, err := tagMutability(t.ImageTagMutability, t.ImageTagMutabilityExclusionFilters)
	if err != nil {
		return err
	}
	t.ImageTagMutability = ecrapi.Ptr(ecrapi.ImageTagMutability(mut))
	if len(t.ImageTagMutabilityExclusionFilters) == 0 {
		t.ImageTagMutabilityExclusionFilters = nil
	}
	if t.EncryptionConfiguration == nil {
		t.EncryptionConfiguration = &ecrapi.EncryptionConfigurationForRepositoryCreationTemplate{}
	}
	e := t.EncryptionConfiguration
	typ, key, err := encryption(&ecrapi.EncryptionConfiguration{EncryptionType: e.EncryptionType, KmsKey: e.KmsKey})
	if err != nil {
		return err
	}
	e.EncryptionType = ecrapi.Ptr(ecrapi.EncryptionType(typ))
	e.KmsKey = nil
	if key != "" {
		e.KmsKey = ecrapi.Ptr(key)
	}
	tags, err := checkTags(t.ResourceTags)
	if err != nil {
		return err
	}
	if len(tags) > maxTags {
		return tooManyTags()
	}
	if doc := ecrapi.Deref(t.RepositoryPolicy); doc != "" {
		if err := checkResourcePolicy("repository", doc); err != nil {
			return err
		}
	}
	if doc := ecrapi.Deref(t.LifecyclePolicy); doc != "" && !json.Valid([]byte(doc)) {
		return constraintError("lifecyclePolicy", "Invalid lifecycle policy provided: not a JSON document")
	}
	return nil
}

// apply sets the members a request gives. Setting the tag mutability
// replaces the exclusion filters too.
func (sp templateSpec) apply(t *ecrapi.RepositoryCreationTemplate) {
	if sp.Description != nil {
		t.Description = sp.Description
	}
	if sp.EncryptionConfiguration != nil {
		t.EncryptionConfiguration = sp.EncryptionConfiguration
	}
	if sp.ResourceTags != nil {
		t.ResourceTags = sp.ResourceTags
	}
	if sp.ImageTagMutability != nil {
		t.ImageTagMutability = sp.ImageTagMutability
		t.ImageTagMutabilityExclusionFilters = sp.ExclusionFilters
	} else if sp.ExclusionFilters != nil {
		t.ImageTagMutabilityExclusionFilters = sp.ExclusionFilters
	}
	if sp.RepositoryPolicy != nil {
		t.RepositoryPolicy = sp.RepositoryPolicy
	}
	if sp.LifecyclePolicy != nil {
		t.LifecyclePolicy = sp.LifecyclePolicy
	}
	if sp.AppliedFor != nil {
		t.AppliedFor = sp.AppliedFor
	}
	if sp.CustomRoleArn != nil {
		t.CustomRoleArn = sp.CustomRoleArn
	}
}

// encodeTemplate makes a template's stored body.
func (s *Server) encodeTemplate(t ecrapi.RepositoryCreationTemplate) ([]byte, error) {
	t.Prefix, t.CreatedAt, t.UpdatedAt = nil, nil, nil
	return json.Marshal(templateBody{RepositoryCreationTemplate: t, Region: s.Region})
}

// apiTemplate maps a stored template to ECR's shape.
func apiTemplate(mt meta.CreationTemplate) (ecrapi.RepositoryCreationTemplate, error) {
	var b templateBody
	if err := json.Unmarshal(mt.Body, &b); err != nil {
		return ecrapi.RepositoryCreationTemplate{}, err
	}
	t := b.RepositoryCreationTemplate
	t.Prefix = ecrapi.Ptr(mt.Prefix)
	t.CreatedAt = awsjson.NewTimestamp(mt.CreatedAt)
	t.UpdatedAt = awsjson.NewTimestamp(mt.UpdatedAt)
	if t.ResourceTags == nil {
		t.ResourceTags = []ecrapi.Tag{}
	}
	return t, nil
}

func templateNotFound(account, prefix string) error {
	return ecrapi.NewTemplateNotFoundException("The repository creation template with prefix '" + prefix + "' does not exist in the registry with id '" + account + "'")
}

// CreateRepositoryCreationTemplate creates a template for a prefix.
func (s *Server) CreateRepositoryCreationTemplate(ctx context.Context, in *ecrapi.CreateRepositoryCreationTemplateInput) (*ecrapi.CreateRepositoryCreationTemplateOutput, error) {
	account, err := s.authorizeOwnRegistry(ctx, "ecr:CreateRepositoryCreationTemplate")
	if err != nil {
		return nil, err
	}
	prefix := ecrapi.Deref(in.Prefix)
	var t ecrapi.RepositoryCreationTemplate
	templateSpec{
		Description: in.Description, EncryptionConfiguration: in.EncryptionConfiguration,
		ResourceTags: in.ResourceTags, ImageTagMutability: in.ImageTagMutability,
		ExclusionFilters: in.ImageTagMutabilityExclusionFilters, RepositoryPolicy: in.RepositoryPolicy,
		LifecyclePolicy: in.LifecyclePolicy, AppliedFor: in.AppliedFor, CustomRoleArn: in.CustomRoleArn,
	}.apply(&t)
	if err := checkTemplate(&t); err != nil {
		return nil, err
	}
	body, err := s.encodeTemplate(t)
	if err != nil {
		return nil, err
	}
	now := s.now()
	mt := meta.CreationTemplate{AccountID: account, Prefix: prefix, Body: body, CreatedAt: now, UpdatedAt: now}
	err = s.Meta.CreateCreationTemplate(ctx, mt)
	if errors.Is(err, meta.ErrExists) {
		return nil, ecrapi.NewTemplateAlreadyExistsException("The repository creation template with prefix '" + prefix + "' already exists in the registry with id '" + account + "'")
	}
	if err != nil {
		return nil, err
	}
	_, out, err := s.loadTemplate(ctx, account, prefix)
	if err != nil {
		return nil, err
	}
	return &ecrapi.CreateRepositoryCreationTemplateOutput{RegistryId: ecrapi.Ptr(account), RepositoryCreationTemplate: &out}, nil
}

// templatePage is the state of a DescribeRepositoryCreationTemplates
// nextToken.
type templatePage struct {
	Op      string   `json:"op"`
	Account string   `json:"account"`
	Last    string   `json:"last"`
	Filter  []string `json:"filter,omitempty"`
}

// DescribeRepositoryCreationTemplates lists the caller's templates (those
// of the given prefixes, if any), by prefix.
func (s *Server) DescribeRepositoryCreationTemplates(ctx context.Context, in *ecrapi.DescribeRepositoryCreationTemplatesInput) (*ecrapi.DescribeRepositoryCreationTemplatesOutput, error) {
	account, err := s.authorizeOwnRegistry(ctx, "ecr:DescribeRepositoryCreationTemplates")
	if err != nil {
		return nil, err
	}
	limit := defaultDescribeRepositories
	if in.MaxResults != nil {
		limit = int(*in.MaxResults)
	}
	filter := slices.Clone(in.Prefixes)
	slices.Sort(filter)
	filter = slices.Compact(filter)
	var last string
	if in.NextToken != nil {
		var st templatePage
		if err := s.Pager.Decode(*in.NextToken, &st); err != nil {
			return nil, err
		}
		if st.Op != "DescribeRepositoryCreationTemplates" || st.Account != account || !slices.Equal(st.Filter, filter) {
			return nil, awsjson.ErrInvalidNextToken
		}
		last = st.Last
	}
	all, err := s.Meta.ListCreationTemplates(ctx, account)
	if err != nil {
		return nil, err
	}
	out := &ecrapi.DescribeRepositoryCreationTemplatesOutput{
		RegistryId:                  ecrapi.Ptr(account),
		RepositoryCreationTemplates: []ecrapi.RepositoryCreationTemplate{},
	}
	for _, mt := range all {
		if mt.Prefix <= last {
			continue
		}
		if len(filter) > 0 && !slices.Contains(filter, mt.Prefix) {
			continue
		}
		if len(out.RepositoryCreationTemplates) == limit {
			out.NextToken = ecrapi.Ptr(s.Pager.Encode(templatePage{"DescribeRepositoryCreationTemplates", account, last, filter}))
			break
		}
		t, err := apiTemplate(mt)
		if err != nil {
			return nil, err
		}
		out.RepositoryCreationTemplates = append(out.RepositoryCreationTemplates, t)
		last = mt.Prefix
	}
	return out, nil
}

// UpdateRepositoryCreationTemplate changes the settings a request gives.
func (s *Server) UpdateRepositoryCreationTemplate(ctx context.Context, in *ecrapi.UpdateRepositoryCreationTemplateInput) (*ecrapi.UpdateRepositoryCreationTemplateOutput, error) {
	account, err := s.authorizeOwnRegistry(ctx, "ecr:UpdateRepositoryCreationTemplate")
	if err != nil {
		return nil, err
	}
	prefix := ecrapi.Deref(in.Prefix)
	mt, t, err := s.loadTemplate(ctx, account, prefix)
	if err != nil {
		return nil, err
	}
	templateSpec{
		Description: in.Description, EncryptionConfiguration: in.EncryptionConfiguration,
		ResourceTags: in.ResourceTags, ImageTagMutability: in.ImageTagMutability,
		ExclusionFilters: in.ImageTagMutabilityExclusionFilters, RepositoryPolicy: in.RepositoryPolicy,
		LifecyclePolicy: in.LifecyclePolicy, AppliedFor: in.AppliedFor, CustomRoleArn: in.CustomRoleArn,
	}.apply(&t)
	if err := checkTemplate(&t); err != nil {
		return nil, err
	}
	if mt.Body, err = s.encodeTemplate(t); err != nil {
		return nil, err
	}
	mt.UpdatedAt = s.now()
	err = s.Meta.UpdateCreationTemplate(ctx, mt)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, templateNotFound(account, prefix)
	}
	if err != nil {
		return nil, err
	}
	_, out, err := s.loadTemplate(ctx, account, prefix)
	if err != nil {
		return nil, err
	}
	return &ecrapi.UpdateRepositoryCreationTemplateOutput{RegistryId: ecrapi.Ptr(account), RepositoryCreationTemplate: &out}, nil
}

// DeleteRepositoryCreationTemplate deletes a template, returning it.
func (s *Server) DeleteRepositoryCreationTemplate(ctx context.Context, in *ecrapi.DeleteRepositoryCreationTemplateInput) (*ecrapi.DeleteRepositoryCreationTemplateOutput, error) {
	account, err := s.authorizeOwnRegistry(ctx, "ecr:DeleteRepositoryCreationTemplate")
	if err != nil {
		return nil, err
	}
	prefix := ecrapi.Deref(in.Prefix)
	_, t, err := s.loadTemplate(ctx, account, prefix)
	if err != nil {
		return nil, err
	}
	err = s.Meta.DeleteCreationTemplate(ctx, account, prefix)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, templateNotFound(account, prefix)
	}
	if err != nil {
		return nil, err
	}
	return &ecrapi.DeleteRepositoryCreationTemplateOutput{RegistryId: ecrapi.Ptr(account), RepositoryCreationTemplate: &t}, nil
}

// loadTemplate reads a creation template in both its stored and its API
// form, answering TemplateNotFoundException when there is none.
func (s *Server) loadTemplate(ctx context.Context, account, prefix string) (meta.CreationTemplate, ecrapi.RepositoryCreationTemplate, error) {
	mt, err := s.Meta.GetCreationTemplate(ctx, account, prefix)
	if errors.Is(err, meta.ErrNotFound) {
		return mt, ecrapi.RepositoryCreationTemplate{}, templateNotFound(account, prefix)
	}
	if err != nil {
		return mt, ecrapi.RepositoryCreationTemplate{}, err
	}
	t, err := apiTemplate(mt)
	return mt, t, err
}

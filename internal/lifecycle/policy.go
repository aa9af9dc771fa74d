package lifecycle

import (
	"fmt"
	"time"
)

// Limits and fixed values from ECR's documentation.
const (
	// MaxPolicyLength is ECR's "Lifecycle policy length" quota: the
	// maximum number of characters in a lifecycle policy.
	MaxPolicyLength = 30720
	// MaxWildcards is the maximum number of '*' in one tagPatternList
	// entry.
	MaxWildcards = 4
	// MinArchiveDays is the minimum storage duration in the archive
	// storage class: a rule may not expire archived images earlier.
	MinArchiveDays = 90
	// MaxNumber is the largest rulePriority or countNumber accepted (the
	// JSON integers are 32-bit in ECR's API model).
	MaxNumber = 1<<31 - 1
)

// Values of Selection.TagStatus.
const (
	TagStatusTagged   = "tagged"
	TagStatusUntagged = "untagged"
	TagStatusAny      = "any"
)

// Values of Selection.CountType. CountSinceImageTagged is a Wharf
// extension; the others are ECR's.
const (
	CountImageCountMoreThan     = "imageCountMoreThan"
	CountSinceImagePushed       = "sinceImagePushed"
	CountSinceImagePulled       = "sinceImagePulled"
	CountSinceImageTransitioned = "sinceImageTransitioned"
	CountSinceImageTagged       = "sinceImageTagged"
)

// CountUnitDays is the only value of Selection.CountUnit.
const CountUnitDays = "days"

// Storage classes as written in policy documents (Selection.StorageClass,
// RuleAction.TargetStorageClass).
const (
	ClassStandard = "standard"
	ClassArchive  = "archive"
)

// Values of RuleAction.Type, as written in policy documents.
const (
	TypeExpire     = "expire"
	TypeTransition = "transition"
)

// Values of Action.Type and Image.StorageClass / Action.TargetStorageClass,
// spelled as ECR's API spells them (ImageActionType,
// LifecyclePolicyStorageClass).
const (
	ActionExpire         = "EXPIRE"
	ActionTransition     = "TRANSITION"
	StorageClassStandard = "STANDARD"
	StorageClassArchive  = "ARCHIVE"
)

// Policy is a parsed and validated lifecycle policy. Rules are in
// document order; Evaluate applies them in RulePriority order.
// json.Marshal of a Policy is a valid policy document that parses back
// to an equal Policy.
type Policy struct {
	Rules []Rule `json:"rules"`
}

// Rule is one element of the policy's "rules" array.
type Rule struct {
	RulePriority int        `json:"rulePriority"`
	Description  string     `json:"description,omitempty"`
	Selection    Selection  `json:"selection"`
	Action       RuleAction `json:"action"`
}

// Selection says which images a rule considers and which of them it acts
// on. Parse sets StorageClass to ClassStandard when the document omits it,
// as ECR does.
type Selection struct {
	TagStatus      string   `json:"tagStatus"`
	TagPatternList []string `json:"tagPatternList,omitempty"`
	TagPrefixList  []string `json:"tagPrefixList,omitempty"`
	StorageClass   string   `json:"storageClass,omitempty"`
	CountType      string   `json:"countType"`
	CountUnit      string   `json:"countUnit,omitempty"`
	CountNumber    int      `json:"countNumber"`
}

// RuleAction is what a rule does to the images it marks.
type RuleAction struct {
	Type               string `json:"type"`
	TargetStorageClass string `json:"targetStorageClass,omitempty"`
}

// Image is what Evaluate knows of one image (manifest) of a repository.
// Zero times mean "never" (or "unknown").
type Image struct {
	Digest string
	Tags   []string
	// PushedAt is ECR's imagePushedAt.
	PushedAt time.Time
	// LastPulledAt is ECR's lastRecordedPullTime.
	LastPulledAt time.Time
	// LastTaggedAt is when a tag was last put on the image (Wharf's
	// sinceImageTagged extension); zero means at push.
	LastTaggedAt time.Time
	// TransitionedAt is ECR's lastArchivedAt: when the image last moved
	// to the archive storage class.
	TransitionedAt time.Time
	// LastActivatedAt is ECR's lastActivatedAt: when the image was last
	// restored from archive to standard; zero if never.
	LastActivatedAt time.Time
	// StorageClass is STANDARD (or empty) or ARCHIVE.
	StorageClass string
	SizeBytes    int64
	// ParentIndex is the digest of a manifest list (image index) that
	// references this image, "" if none. An image referenced by several
	// indexes is passed once per index: entries with the same Digest are
	// merged, their tags and parents united.
	ParentIndex string
	// Subject is the digest this artifact refers to (signature, SBOM,
	// attestation), "" if none.
	Subject string
}

// Action is one thing the policy does to one image.
type Action struct {
	Digest string
	Tags   []string
	// RulePriority is the rule that decided the action; for an image that
	// follows its index or subject, the rule that acted on that one.
	RulePriority int
	// Type is ActionExpire or ActionTransition.
	Type string
	// TargetStorageClass is StorageClassArchive for ActionTransition, ""
	// otherwise.
	TargetStorageClass string
}

// Error is a policy validation failure. Path locates the offending element
// ("rules[1].selection.countUnit"); it is empty for document-level
// problems. The message reads as ECR's: "Lifecycle policy validation
// failure: " followed by the path and what is wrong.
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "Lifecycle policy validation failure: " + e.Msg
	}
	return "Lifecycle policy validation failure: " + e.Path + ": " + e.Msg
}

func errorf(path, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

package lifecycle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Parse reads and validates a lifecycle policy document. The returned
// error is an *Error whose message says what is wrong and where. Field
// names are case-sensitive, unknown and duplicated fields are refused, and
// null is not accepted in place of a value (ECR's validator refuses it
// too).
func Parse(doc []byte) (*Policy, error) {
	if !utf8.Valid(doc) {
		return nil, errorf("", "the policy is not valid UTF-8")
	}
	if n := utf8.RuneCount(doc); n > MaxPolicyLength {
		return nil, errorf("", "the policy is %d characters long; the maximum is %d", n, MaxPolicyLength)
	}
	var probe any
	if err := json.Unmarshal(doc, &probe); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, errorf("", "the policy is not valid JSON: %v (at byte %d)", se, se.Offset)
		}
		return nil, errorf("", "the policy is not valid JSON: %v", err)
	}
	top, e := objectFields(doc, "", "rules")
	if e != nil {
		return nil, e
	}
	var rulesRaw json.RawMessage
	for _, f := range top {
		rulesRaw = f.raw
	}
	if rulesRaw == nil {
		return nil, errorf("", `missing required field "rules"`)
	}
	elems, e := arrayElems(rulesRaw, "rules")
	if e != nil {
		return nil, e
	}
	if len(elems) == 0 {
		return nil, errorf("rules", "must contain at least one rule")
	}
	p := &Policy{Rules: make([]Rule, 0, len(elems))}
	for i, raw := range elems {
		r, e := parseRule(raw, fmt.Sprintf("rules[%d]", i))
		if e != nil {
			return nil, e
		}
		p.Rules = append(p.Rules, r)
	}
	if e := checkRuleSet(p.Rules); e != nil {
		return nil, e
	}
	return p, nil
}

var (
	ruleFields      = []string{"rulePriority", "description", "selection", "action"}
	selectionFields = []string{"tagStatus", "tagPatternList", "tagPrefixList", "storageClass", "countType", "countUnit", "countNumber"}
	actionFields    = []string{"type", "targetStorageClass"}
	countTypes      = []string{CountImageCountMoreThan, CountSinceImagePushed, CountSinceImagePulled, CountSinceImageTransitioned, CountSinceImageTagged}
)

func parseRule(raw json.RawMessage, path string) (Rule, *Error) {
	var r Rule
	fields, e := objectFields(raw, path, ruleFields...)
	if e != nil {
		return r, e
	}
	var sel, act json.RawMessage
	havePriority := false
	for _, f := range fields {
		fp := path + "." + f.key
		switch f.key {
		case "rulePriority":
			if r.RulePriority, e = decodeInt(f.raw, fp); e != nil {
				return r, e
			}
			havePriority = true
		case "description":
			if r.Description, e = decodeString(f.raw, fp); e != nil {
				return r, e
			}
		case "selection":
			sel = f.raw
		case "action":
			act = f.raw
		}
	}
	switch {
	case !havePriority:
		return r, errorf(path, `missing required field "rulePriority"`)
	case sel == nil:
		return r, errorf(path, `missing required field "selection"`)
	case act == nil:
		return r, errorf(path, `missing required field "action"`)
	}
	if r.Selection, e = parseSelection(sel, path+".selection"); e != nil {
		return r, e
	}
	if r.Action, e = parseAction(act, path+".action"); e != nil {
		return r, e
	}
	return r, checkRule(&r, path)
}

func parseSelection(raw json.RawMessage, path string) (Selection, *Error) {
	var s Selection
	fields, e := objectFields(raw, path, selectionFields...)
	if e != nil {
		return s, e
	}
	have := map[string]bool{}
	for _, f := range fields {
		fp := path + "." + f.key
		switch f.key {
		case "tagStatus":
			s.TagStatus, e = decodeString(f.raw, fp)
		case "tagPatternList":
			s.TagPatternList, e = decodeStringList(f.raw, fp)
		case "tagPrefixList":
			s.TagPrefixList, e = decodeStringList(f.raw, fp)
		case "storageClass":
			s.StorageClass, e = decodeString(f.raw, fp)
		case "countType":
			s.CountType, e = decodeString(f.raw, fp)
		case "countUnit":
			s.CountUnit, e = decodeString(f.raw, fp)
		case "countNumber":
			s.CountNumber, e = decodeInt(f.raw, fp)
		}
		if e != nil {
			return s, e
		}
		have[f.key] = true
	}
	for _, k := range []string{"tagStatus", "countType", "countNumber"} {
		if !have[k] {
			return s, errorf(path, "missing required field %q", k)
		}
	}
	// Presence matters below (an empty list is not an absent one).
	if have["tagPatternList"] && s.TagPatternList == nil {
		s.TagPatternList = []string{}
	}
	if have["tagPrefixList"] && s.TagPrefixList == nil {
		s.TagPrefixList = []string{}
	}
	if have["storageClass"] && s.StorageClass == "" {
		return s, errorf(path+".storageClass", "must be %q or %q", ClassStandard, ClassArchive)
	}
	if have["countUnit"] && s.CountUnit == "" {
		return s, errorf(path+".countUnit", "must be %q", CountUnitDays)
	}
	return s, nil
}

func parseAction(raw json.RawMessage, path string) (RuleAction, *Error) {
	var a RuleAction
	fields, e := objectFields(raw, path, actionFields...)
	if e != nil {
		return a, e
	}
	haveType, haveTarget := false, false
	for _, f := range fields {
		fp := path + "." + f.key
		switch f.key {
		case "type":
			a.Type, e = decodeString(f.raw, fp)
			haveType = true
		case "targetStorageClass":
			a.TargetStorageClass, e = decodeString(f.raw, fp)
			haveTarget = true
		}
		if e != nil {
			return a, e
		}
	}
	if !haveType {
		return a, errorf(path, `missing required field "type"`)
	}
	if haveTarget && a.TargetStorageClass == "" {
		return a, errorf(path+".targetStorageClass", "must be %q", ClassArchive)
	}
	return a, nil
}

// checkRule validates one rule on its own.
func checkRule(r *Rule, path string) *Error {
	if r.RulePriority < 1 {
		return errorf(path+".rulePriority", "must be a positive integer, not %d", r.RulePriority)
	}
	s := &r.Selection
	sp := path + ".selection"

	switch s.TagStatus {
	case TagStatusTagged:
		switch {
		case s.TagPatternList != nil && s.TagPrefixList != nil:
			return errorf(sp, "a rule may specify either tagPatternList or tagPrefixList, not both")
		case s.TagPatternList == nil && s.TagPrefixList == nil:
			return errorf(sp, `tagStatus "tagged" requires a tagPatternList or a tagPrefixList`)
		}
	case TagStatusUntagged, TagStatusAny:
		if s.TagPatternList != nil {
			return errorf(sp+".tagPatternList", "may only be used when tagStatus is %q, not %q", TagStatusTagged, s.TagStatus)
		}
		if s.TagPrefixList != nil {
			return errorf(sp+".tagPrefixList", "may only be used when tagStatus is %q, not %q", TagStatusTagged, s.TagStatus)
		}
	default:
		return errorf(sp+".tagStatus", "%q is not a valid tag status; expected %q, %q or %q",
			s.TagStatus, TagStatusTagged, TagStatusUntagged, TagStatusAny)
	}
	if s.TagPatternList != nil {
		lp := sp + ".tagPatternList"
		if len(s.TagPatternList) == 0 {
			return errorf(lp, "must contain at least one tag pattern")
		}
		for i, pat := range s.TagPatternList {
			switch n := strings.Count(pat, "*"); {
			case pat == "":
				return errorf(fmt.Sprintf("%s[%d]", lp, i), "a tag pattern must not be empty")
			case n > MaxWildcards:
				return errorf(fmt.Sprintf("%s[%d]", lp, i), "%q has %d wildcards (*); at most %d are allowed per pattern", pat, n, MaxWildcards)
			}
		}
	}
	if s.TagPrefixList != nil {
		lp := sp + ".tagPrefixList"
		if len(s.TagPrefixList) == 0 {
			return errorf(lp, "must contain at least one tag prefix")
		}
		for i, pre := range s.TagPrefixList {
			if pre == "" {
				return errorf(fmt.Sprintf("%s[%d]", lp, i), "a tag prefix must not be empty")
			}
		}
	}

	if !slices.Contains(countTypes, s.CountType) {
		return errorf(sp+".countType", "%q is not a valid count type; expected one of %s",
			s.CountType, strings.Join(countTypes, ", "))
	}
	if s.CountType == CountImageCountMoreThan {
		if s.CountUnit != "" {
			return errorf(sp+".countUnit", "must not be set when countType is %q", s.CountType)
		}
	} else {
		switch s.CountUnit {
		case CountUnitDays:
		case "":
			return errorf(sp, "countType %q requires countUnit %q", s.CountType, CountUnitDays)
		default:
			return errorf(sp+".countUnit", "%q is not a valid count unit; the only one is %q", s.CountUnit, CountUnitDays)
		}
	}
	if s.CountNumber < 1 {
		return errorf(sp+".countNumber", "must be a positive integer, not %d", s.CountNumber)
	}

	switch s.StorageClass {
	case "":
		if s.CountType == CountSinceImageTransitioned {
			return errorf(sp, "countType %q requires storageClass %q", s.CountType, ClassArchive)
		}
		s.StorageClass = ClassStandard
	case ClassStandard:
		if s.CountType == CountSinceImageTransitioned {
			return errorf(sp+".storageClass", "must be %q when countType is %q", ClassArchive, s.CountType)
		}
	case ClassArchive:
		if s.CountType != CountSinceImageTransitioned {
			return errorf(sp+".storageClass", "%q is only allowed with countType %q; countType %q selects %q images only",
				ClassArchive, CountSinceImageTransitioned, s.CountType, ClassStandard)
		}
	default:
		return errorf(sp+".storageClass", "%q is not a valid storage class; expected %q or %q", s.StorageClass, ClassStandard, ClassArchive)
	}
	if s.CountType == CountSinceImageTransitioned && s.CountNumber < MinArchiveDays {
		return errorf(sp+".countNumber", "images must stay in archive storage for at least %d days; countNumber %d is too small for countType %q",
			MinArchiveDays, s.CountNumber, s.CountType)
	}

	a := &r.Action
	ap := path + ".action"
	switch a.Type {
	case TypeExpire:
		if a.TargetStorageClass != "" {
			return errorf(ap+".targetStorageClass", "may only be used when type is %q", TypeTransition)
		}
		if s.CountType == CountSinceImagePulled {
			return errorf(ap+".type", "countType %q can only be used with action %q, not %q (transition images to archive first, then expire them with %q)",
				s.CountType, TypeTransition, TypeExpire, CountSinceImageTransitioned)
		}
	case TypeTransition:
		switch a.TargetStorageClass {
		case ClassArchive:
		case "":
			return errorf(ap, "action %q requires targetStorageClass %q", TypeTransition, ClassArchive)
		default:
			return errorf(ap+".targetStorageClass", "%q is not a valid target storage class; the only one is %q", a.TargetStorageClass, ClassArchive)
		}
		if s.CountType == CountSinceImageTransitioned {
			return errorf(ap+".type", "countType %q can only be used with action %q", s.CountType, TypeExpire)
		}
	default:
		return errorf(ap+".type", "%q is not a valid action type; expected %q or %q", a.Type, TypeExpire, TypeTransition)
	}
	return nil
}

// checkRuleSet validates the rules together. ECR states its constraints
// per storage class ("The set of all rules selecting a specific storage
// class must contain a unique set of prefixes", "Only one rule selecting a
// specific storage class is allowed to select untagged images"), and its
// documented archive example has an "any" rule for each class, so the
// "any rule last" constraint is checked per storage class as well.
func checkRuleSet(rules []Rule) *Error {
	byPriority := map[int]int{}
	for i, r := range rules {
		if j, dup := byPriority[r.RulePriority]; dup {
			return errorf(fmt.Sprintf("rules[%d].rulePriority", i), "rulePriority %d is already used by rules[%d]; each rule needs a unique rulePriority", r.RulePriority, j)
		}
		byPriority[r.RulePriority] = i
	}
	for i, r := range rules {
		class := r.Selection.StorageClass
		for j, o := range rules {
			if j == i || o.Selection.StorageClass != class {
				continue
			}
			if r.Selection.TagStatus == TagStatusAny && o.RulePriority > r.RulePriority {
				return errorf(fmt.Sprintf("rules[%d]", i), `a rule with tagStatus "any" must have the highest rulePriority among the rules selecting storage class %q, but rulePriority %d (rules[%d]) is higher than %d`,
					class, o.RulePriority, j, r.RulePriority)
			}
			if j < i && r.Selection.TagStatus == TagStatusUntagged && o.Selection.TagStatus == TagStatusUntagged {
				return errorf(fmt.Sprintf("rules[%d]", i), `only one rule selecting storage class %q may select untagged images; rules[%d] already does`, class, j)
			}
			if j < i && r.Selection.TagStatus == TagStatusTagged && o.Selection.TagStatus == TagStatusTagged {
				if sameSet(r.Selection.TagPrefixList, o.Selection.TagPrefixList) && sameSet(r.Selection.TagPatternList, o.Selection.TagPatternList) {
					return errorf(fmt.Sprintf("rules[%d].selection", i), "the rules selecting storage class %q must have unique tag filters; rules[%d] has the same one", class, j)
				}
			}
		}
	}
	return nil
}

// sameSet reports whether a and b hold the same strings, ignoring order
// and repetition; nil (absent) equals only nil.
func sameSet(a, b []string) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	return slices.Equal(setOf(a), setOf(b))
}

func setOf(list []string) []string {
	s := slices.Clone(list)
	slices.Sort(s)
	return slices.Compact(s)
}

// JSON reading: every object is read key by key so that field names are
// matched exactly, duplicates are seen and nothing is silently dropped.

type field struct {
	key string
	raw json.RawMessage
}

// objectFields reads a JSON object whose keys must be among known.
func objectFields(raw []byte, path string, known ...string) ([]field, *Error) {
	if k := kindOf(raw); k != "an object" {
		return nil, errorf(path, "must be a JSON object, not %s", k)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // '{'
		return nil, errorf(path, "invalid JSON: %v", err)
	}
	var fields []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errorf(path, "invalid JSON: %v", err)
		}
		key, _ := tok.(string)
		if !slices.Contains(known, key) {
			return nil, unknownField(path, key, known...)
		}
		for _, f := range fields {
			if f.key == key {
				return nil, errorf(path, "field %q appears more than once", key)
			}
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errorf(path, "invalid JSON: %v", err)
		}
		fields = append(fields, field{key, v})
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, errorf(path, "invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errorf(path, "unexpected data after the JSON object")
	}
	return fields, nil
}

func arrayElems(raw []byte, path string) ([]json.RawMessage, *Error) {
	if k := kindOf(raw); k != "an array" {
		return nil, errorf(path, "must be a JSON array, not %s", k)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, errorf(path, "invalid JSON: %v", err)
	}
	return elems, nil
}

func decodeString(raw []byte, path string) (string, *Error) {
	if k := kindOf(raw); k != "a string" {
		return "", errorf(path, "must be a string, not %s", k)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errorf(path, "invalid JSON string: %v", err)
	}
	return s, nil
}

func decodeStringList(raw []byte, path string) ([]string, *Error) {
	elems, e := arrayElems(raw, path)
	if e != nil {
		return nil, e
	}
	out := make([]string, len(elems))
	for i, el := range elems {
		if out[i], e = decodeString(el, fmt.Sprintf("%s[%d]", path, i)); e != nil {
			return nil, e
		}
	}
	return out, nil
}

func decodeInt(raw []byte, path string) (int, *Error) {
	if k := kindOf(raw); k != "a number" {
		return 0, errorf(path, "must be an integer, not %s", k)
	}
	lit := string(bytes.TrimSpace(raw))
	n, err := strconv.ParseInt(lit, 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			if strings.HasPrefix(lit, "-") {
				return 0, errorf(path, "must be a positive integer, not %s", lit)
			}
			return 0, errorf(path, "%s is out of range; the maximum is %d", lit, MaxNumber)
		}
		return 0, errorf(path, "must be an integer, not %s", lit)
	}
	if n > MaxNumber {
		return 0, errorf(path, "%d is out of range; the maximum is %d", n, MaxNumber)
	}
	if n < -MaxNumber {
		return 0, errorf(path, "must be a positive integer, not %d", n)
	}
	return int(n), nil
}

// kindOf names the JSON type of a (valid) value for error messages.
func kindOf(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

func unknownField(path, key string, known ...string) *Error {
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return errorf(path, "unknown field %q (did you mean %q?)", key, k)
		}
	}
	return errorf(path, "unknown field %q; expected %s", key, quoteList(known))
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

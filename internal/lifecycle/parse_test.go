package lifecycle

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	p := mustParse(t, `{
		"rules": [
			{"rulePriority": 10, "description": "archive old",
			 "selection": {"tagStatus": "tagged", "tagPatternList": ["*-sha-*"], "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 30},
			 "action": {"type": "transition", "targetStorageClass": "archive"}},
			{"rulePriority": 2,
			 "selection": {"tagStatus": "tagged", "tagPatternList": ["*-sha-*"], "storageClass": "archive", "countType": "sinceImageTransitioned", "countUnit": "days", "countNumber": 90},
			 "action": {"type": "expire"}},
			{"rulePriority": 3,
			 "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
			 "action": {"type": "expire"}}
		]}`)
	want := &Policy{Rules: []Rule{
		{RulePriority: 10, Description: "archive old",
			Selection: Selection{TagStatus: "tagged", TagPatternList: []string{"*-sha-*"}, StorageClass: "standard", CountType: "sinceImagePushed", CountUnit: "days", CountNumber: 30},
			Action:    RuleAction{Type: "transition", TargetStorageClass: "archive"}},
		{RulePriority: 2,
			Selection: Selection{TagStatus: "tagged", TagPatternList: []string{"*-sha-*"}, StorageClass: "archive", CountType: "sinceImageTransitioned", CountUnit: "days", CountNumber: 90},
			Action:    RuleAction{Type: "expire"}},
		{RulePriority: 3,
			Selection: Selection{TagStatus: "untagged", StorageClass: "standard", CountType: "imageCountMoreThan", CountNumber: 1},
			Action:    RuleAction{Type: "expire"}},
	}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got  %+v\nwant %+v", p, want)
	}
	// json.Marshal gives a document that parses back to the same policy.
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if q := mustParse(t, string(out)); !reflect.DeepEqual(p, q) {
		t.Errorf("round trip:\n%s\n%+v", out, q)
	}
}

func TestParseAcceptsRulesForEachStorageClass(t *testing.T) {
	// Per storage class: an "any" rule last, one untagged rule, unique
	// tag filters (ECR's documented archive example has an "any" rule in
	// each class).
	mustParse(t, policy(
		rule(1, `{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1}`, expire),
		rule(2, `{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":90}`, transition),
		rule(3, `{"tagStatus":"untagged","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90}`, expire),
		rule(4, `{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":365}`, expire),
	))
	// different tag filters, and a prefix and a pattern list with the
	// same strings, are different filters
	mustParse(t, policy(
		rule(1, `{"tagStatus":"tagged","tagPrefixList":["alpha","beta"],"countType":"imageCountMoreThan","countNumber":1}`, expire),
		rule(2, `{"tagStatus":"tagged","tagPrefixList":["alpha"],"countType":"imageCountMoreThan","countNumber":1}`, expire),
		rule(3, `{"tagStatus":"tagged","tagPatternList":["alpha"],"countType":"imageCountMoreThan","countNumber":1}`, expire),
		rule(4, `{"tagStatus":"tagged","tagPatternList":["*test*1*2*3","test*1*2*3*"],"countType":"sinceImageTagged","countUnit":"days","countNumber":1}`, transition),
	))
}

func TestParseInvalid(t *testing.T) {
	sel := func(s string) string { return policy(rule(1, s, expire)) }
	cases := []struct {
		name, doc, want string
	}{
		{"empty", ``, "not valid JSON"},
		{"syntax", `{"rules": [}`, "not valid JSON"},
		{"trailing", `{"rules":[]} {}`, "not valid JSON"},
		{"not object", `[]`, "must be a JSON object, not an array"},
		{"no rules", `{}`, `missing required field "rules"`},
		{"rules null", `{"rules":null}`, "rules: must be a JSON array, not null"},
		{"rules empty", `{"rules":[]}`, "must contain at least one rule"},
		{"unknown top", `{"rules":[],"version":1}`, `unknown field "version"`},
		{"case", `{"Rules":[]}`, `unknown field "Rules" (did you mean "rules"?)`},
		{"duplicate key", `{"rules":[],"rules":[]}`, `field "rules" appears more than once`},
		{"rule not object", `{"rules":[1]}`, "rules[0]: must be a JSON object, not a number"},
		{"no priority", `{"rules":[{"selection":{},"action":{}}]}`, `rules[0]: missing required field "rulePriority"`},
		{"no selection", `{"rules":[{"rulePriority":1,"action":{}}]}`, `missing required field "selection"`},
		{"no action", `{"rules":[{"rulePriority":1,"selection":{}}]}`, `missing required field "action"`},
		{"unknown rule field", policy(`{"rulePriority":1,"selection":{},"action":{},"priority":2}`), `rules[0]: unknown field "priority"`},
		{"priority zero", policy(strings.Replace(rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}`, expire), `"rulePriority":1`, `"rulePriority":0`, 1)), "rules[0].rulePriority: must be a positive integer, not 0"},
		{"priority string", `{"rules":[{"rulePriority":"1","selection":{},"action":{}}]}`, "rules[0].rulePriority: must be an integer, not a string"},
		{"priority fraction", `{"rules":[{"rulePriority":1.5,"selection":{},"action":{}}]}`, "must be an integer, not 1.5"},
		{"priority huge", `{"rules":[{"rulePriority":99999999999,"selection":{},"action":{}}]}`, "out of range"},
		{"description number", `{"rules":[{"rulePriority":1,"description":5,"selection":{},"action":{}}]}`, "rules[0].description: must be a string, not a number"},
		{"selection missing fields", sel(`{"tagStatus":"any"}`), `rules[0].selection: missing required field "countType"`},
		{"no countNumber", sel(`{"tagStatus":"any","countType":"imageCountMoreThan"}`), `missing required field "countNumber"`},
		{"unknown selection field", sel(`{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1,"tagPrefix":["a"]}`), `rules[0].selection: unknown field "tagPrefix"`},
		{"bad tagStatus", sel(`{"tagStatus":"TAGGED","countType":"imageCountMoreThan","countNumber":1}`), `"TAGGED" is not a valid tag status`},
		{"tagged without list", sel(`{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1}`), `tagStatus "tagged" requires a tagPatternList or a tagPrefixList`},
		{"both lists", sel(`{"tagStatus":"tagged","tagPatternList":["a*"],"tagPrefixList":["a"],"countType":"imageCountMoreThan","countNumber":1}`), "either tagPatternList or tagPrefixList, not both"},
		{"untagged with prefixes", sel(`{"tagStatus":"untagged","tagPrefixList":["a"],"countType":"imageCountMoreThan","countNumber":1}`), `tagPrefixList: may only be used when tagStatus is "tagged", not "untagged"`},
		{"any with patterns", sel(`{"tagStatus":"any","tagPatternList":["a*"],"countType":"imageCountMoreThan","countNumber":1}`), `tagPatternList: may only be used when tagStatus is "tagged", not "any"`},
		{"empty pattern list", sel(`{"tagStatus":"tagged","tagPatternList":[],"countType":"imageCountMoreThan","countNumber":1}`), "tagPatternList: must contain at least one tag pattern"},
		{"empty prefix", sel(`{"tagStatus":"tagged","tagPrefixList":["a",""],"countType":"imageCountMoreThan","countNumber":1}`), "tagPrefixList[1]: a tag prefix must not be empty"},
		{"pattern list null", sel(`{"tagStatus":"tagged","tagPatternList":null,"countType":"imageCountMoreThan","countNumber":1}`), "tagPatternList: must be a JSON array, not null"},
		{"pattern not string", sel(`{"tagStatus":"tagged","tagPatternList":[1],"countType":"imageCountMoreThan","countNumber":1}`), "tagPatternList[0]: must be a string, not a number"},
		{"five wildcards", sel(`{"tagStatus":"tagged","tagPatternList":["ok*","test*1*2*3*4*5*6"],"countType":"imageCountMoreThan","countNumber":1}`), `tagPatternList[1]: "test*1*2*3*4*5*6" has 6 wildcards (*); at most 4 are allowed`},
		{"bad countType", sel(`{"tagStatus":"any","countType":"sinceImagePushd","countUnit":"days","countNumber":1}`), `"sinceImagePushd" is not a valid count type`},
		{"unit with count", sel(`{"tagStatus":"any","countType":"imageCountMoreThan","countUnit":"days","countNumber":1}`), `countUnit: must not be set when countType is "imageCountMoreThan"`},
		{"since without unit", sel(`{"tagStatus":"any","countType":"sinceImagePushed","countNumber":1}`), `countType "sinceImagePushed" requires countUnit "days"`},
		{"tagged-since without unit", sel(`{"tagStatus":"any","countType":"sinceImageTagged","countNumber":1}`), `countType "sinceImageTagged" requires countUnit "days"`},
		{"bad unit", sel(`{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"hours","countNumber":1}`), `"hours" is not a valid count unit`},
		{"empty unit", sel(`{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"","countNumber":1}`), `countUnit: must be "days"`},
		{"count zero", sel(`{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":0}`), "countNumber: must be a positive integer, not 0"},
		{"count negative", sel(`{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":-3}`), "countNumber: must be a positive integer, not -3"},
		{"count null", sel(`{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":null}`), "countNumber: must be an integer, not null"},
		{"bad storage class", sel(`{"tagStatus":"any","storageClass":"glacier","countType":"imageCountMoreThan","countNumber":1}`), `"glacier" is not a valid storage class`},
		{"transitioned without class", sel(`{"tagStatus":"any","countType":"sinceImageTransitioned","countUnit":"days","countNumber":365}`), `countType "sinceImageTransitioned" requires storageClass "archive"`},
		{"transitioned standard", sel(`{"tagStatus":"any","storageClass":"standard","countType":"sinceImageTransitioned","countUnit":"days","countNumber":365}`), `storageClass: must be "archive" when countType is "sinceImageTransitioned"`},
		{"archive with pushed", sel(`{"tagStatus":"any","storageClass":"archive","countType":"sinceImagePushed","countUnit":"days","countNumber":365}`), `"archive" is only allowed with countType "sinceImageTransitioned"`},
		{"archive minimum", sel(`{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":89}`), "at least 90 days"},
		{"no action type", policy(rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}`, `{}`)), `rules[0].action: missing required field "type"`},
		{"bad action", policy(rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}`, `{"type":"delete"}`)), `action.type: "delete" is not a valid action type`},
		{"unknown action field", policy(rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}`, `{"type":"expire","days":1}`)), `rules[0].action: unknown field "days"`},
		{"expire with target", policy(rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}`, `{"type":"expire","targetStorageClass":"archive"}`)), `targetStorageClass: may only be used when type is "transition"`},
		{"target null", policy(rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}`, `{"type":"expire","targetStorageClass":null}`)), "targetStorageClass: must be a string, not null"},
		{"transition without target", policy(rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}`, `{"type":"transition"}`)), `action "transition" requires targetStorageClass "archive"`},
		{"transition to standard", policy(rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}`, `{"type":"transition","targetStorageClass":"standard"}`)), `"standard" is not a valid target storage class`},
		{"pulled with expire", sel(`{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":90}`), `countType "sinceImagePulled" can only be used with action "transition"`},
		{"transitioned with transition", policy(rule(1, `{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90}`, transition)), `countType "sinceImageTransitioned" can only be used with action "expire"`},
		{"duplicate priority", policy(
			rule(1, `{"tagStatus":"tagged","tagPrefixList":["a"],"countType":"imageCountMoreThan","countNumber":1}`, expire),
			rule(1, `{"tagStatus":"tagged","tagPrefixList":["b"],"countType":"imageCountMoreThan","countNumber":1}`, expire),
		), "rules[1].rulePriority: rulePriority 1 is already used by rules[0]"},
		{"any not last", policy(
			rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}`, expire),
			rule(2, `{"tagStatus":"tagged","tagPrefixList":["b"],"countType":"imageCountMoreThan","countNumber":1}`, expire),
		), `rules[0]: a rule with tagStatus "any" must have the highest rulePriority among the rules selecting storage class "standard", but rulePriority 2 (rules[1]) is higher than 1`},
		{"two any", policy(
			rule(2, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}`, expire),
			rule(1, `{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":1}`, expire),
		), `rules[1]: a rule with tagStatus "any" must have the highest rulePriority`},
		{"two untagged", policy(
			rule(1, `{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1}`, expire),
			rule(2, `{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1}`, expire),
		), `rules[1]: only one rule selecting storage class "standard" may select untagged images; rules[0] already does`},
		{"same prefixes", policy(
			rule(1, `{"tagStatus":"tagged","tagPrefixList":["a","b"],"countType":"imageCountMoreThan","countNumber":1}`, expire),
			rule(2, `{"tagStatus":"tagged","tagPrefixList":["b","a"],"countType":"sinceImagePushed","countUnit":"days","countNumber":1}`, expire),
		), `rules[1].selection: the rules selecting storage class "standard" must have unique tag filters; rules[0] has the same one`},
		{"same patterns", policy(
			rule(1, `{"tagStatus":"tagged","tagPatternList":["prod*"],"countType":"imageCountMoreThan","countNumber":1}`, expire),
			rule(2, `{"tagStatus":"tagged","tagPatternList":["prod*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":1}`, expire),
		), "must have unique tag filters"},
		{"too long", `{"rules":[` + strings.Repeat(" ", MaxPolicyLength) + `]}`, "characters long; the maximum is 30720"},
		{"bad utf8", "{\"rules\":[\"\xff\"]}", "not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse([]byte(c.doc))
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error type %T", err)
			}
			if !strings.HasPrefix(err.Error(), "Lifecycle policy validation failure: ") {
				t.Errorf("message %q lacks ECR's prefix", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\n does not contain %q", err, c.want)
			}
		})
	}
}

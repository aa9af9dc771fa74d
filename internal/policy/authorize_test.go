package policy

import (
	"strings"
	"testing"
)

const (
	acctA = "111122223333" // owns the repositories
	acctB = "444455556666" // another account
	repo  = "arn:aws:ecr:us-east-1:111122223333:repository/team/app"
	repo2 = "arn:aws:ecr:us-east-1:111122223333:repository/other/app"
)

var (
	alice = Principal{AccountID: acctA, ARN: "arn:aws:iam::111122223333:user/alice"}
	bob   = Principal{AccountID: acctA, ARN: "arn:aws:iam::111122223333:user/bob"}
	rootA = Principal{AccountID: acctA, ARN: "arn:aws:iam::111122223333:root"}
	carol = Principal{ARN: "arn:aws:iam::444455556666:user/carol"} // account derived from the ARN
	anon  = Principal{Anonymous: true}
)

// doc wraps statements into a 2012-10-17 policy document.
func doc(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

// allowAll is an identity policy allowing everything.
var allowAll = doc(`{"Sid":"All","Effect":"Allow","Action":"*","Resource":"*"}`)

// cond is an identity policy allowing ecr:* on everything under a condition.
func cond(c string) string {
	return doc(`{"Sid":"Cond","Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":` + c + `}`)
}

type authzCase struct {
	name     string
	identity []string
	resource []string
	who      Principal
	action   string // default ecr:BatchGetImage
	res      string // default repo
	resAcct  string // Request.ResourceAccount
	ctx      Context
	allowed  bool
	sid      string // expected MatchedSid, if not ""
	reason   string // expected substring of Reason, if not ""
}

func authzCases() []authzCase {
	pullFor := func(principal string) string {
		return doc(`{"Sid":"Pull","Effect":"Allow","Principal":` + principal + `,"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}`)
	}
	return []authzCase{
		// --- same account ---
		{name: "no policies", who: alice, reason: "implicit deny: no policy allows ecr:BatchGetImage on " + repo},
		{name: "identity allows all", identity: []string{allowAll}, who: alice, allowed: true, sid: "All", reason: `allowed by identity policy #0, Sid "All"`},
		{name: "identity Get* matches GetDownloadUrlForLayer", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:Get*","Resource":"*"}`)},
			who: alice, action: "ecr:GetDownloadUrlForLayer", allowed: true, reason: "Statement[0]"},
		{name: "identity Get* does not match PutImage", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:Get*","Resource":"*"}`)},
			who: alice, action: "ecr:PutImage"},
		{name: "action pattern case-insensitive", identity: []string{doc(`{"Effect":"Allow","Action":"ECR:getdownloadURLforlayer","Resource":"*"}`)},
			who: alice, action: "ecr:GetDownloadUrlForLayer", allowed: true},
		{name: "request action case-insensitive", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:BatchGetImage","Resource":"*"}`)},
			who: alice, action: "ECR:BATCHGETIMAGE", allowed: true},
		{name: "action ? wildcard", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:Batch?etImage","Resource":"*"}`)},
			who: alice, allowed: true},
		{name: "action ? needs exactly one char", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:Batch?GetImage","Resource":"*"}`)},
			who: alice},
		{name: "other service action does not match", identity: []string{doc(`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`)},
			who: alice},
		{name: "action list", identity: []string{doc(`{"Effect":"Allow","Action":["ecr:PutImage","ecr:BatchGetImage"],"Resource":"*"}`)},
			who: alice, allowed: true},
		{name: "resource policy names the user", resource: []string{pullFor(`{"AWS":"arn:aws:iam::111122223333:user/alice"}`)},
			who: alice, allowed: true, sid: "Pull", reason: `resource policy #0, Sid "Pull"`},
		{name: "resource policy names another user", resource: []string{pullFor(`{"AWS":"arn:aws:iam::111122223333:user/alice"}`)},
			who: bob},
		{name: "resource policy naming the account delegates to identity policies", resource: []string{pullFor(`{"AWS":"111122223333"}`)},
			who: alice, reason: "delegates to its identity policies"},
		{name: "resource policy naming the account root ARN delegates too", resource: []string{pullFor(`{"AWS":"arn:aws:iam::111122223333:root"}`)},
			who: alice, reason: "delegates"},
		{name: "resource policy naming the account allows the root itself", resource: []string{pullFor(`{"AWS":"111122223333"}`)},
			who: rootA, allowed: true, sid: "Pull"},
		{name: "principal with only AccountID is the root", resource: []string{pullFor(`{"AWS":"arn:aws:iam::111122223333:root"}`)},
			who: Principal{AccountID: acctA}, allowed: true},
		{name: "root is not implicitly allowed", who: rootA},
		{name: "account grant plus identity allow", identity: []string{allowAll}, resource: []string{pullFor(`{"AWS":"111122223333"}`)},
			who: alice, allowed: true},
		{name: "resource policy star allows same-account user", resource: []string{pullFor(`"*"`)}, who: alice, allowed: true},
		{name: "resource policy AWS star allows same-account user", resource: []string{pullFor(`{"AWS":"*"}`)}, who: alice, allowed: true},
		{name: "principal list", resource: []string{pullFor(`{"AWS":["arn:aws:iam::111122223333:user/bob","arn:aws:iam::111122223333:user/alice"]}`)},
			who: alice, allowed: true},
		{name: "service principal never matches a user", resource: []string{pullFor(`{"Service":"lambda.amazonaws.com"}`)}, who: alice},
		{name: "explicit deny in identity beats resource allow",
			identity: []string{doc(`{"Sid":"NoPull","Effect":"Deny","Action":"ecr:BatchGetImage","Resource":"*"}`)},
			resource: []string{pullFor(`"*"`)}, who: alice, sid: "NoPull", reason: `explicit deny in identity policy #0, Sid "NoPull"`},
		{name: "explicit deny in resource beats identity allow", identity: []string{allowAll},
			resource: []string{doc(`{"Sid":"Freeze","Effect":"Deny","Principal":"*","Action":"ecr:PutImage"}`)},
			who:      alice, action: "ecr:PutImage", sid: "Freeze", reason: `explicit deny in resource policy #0, Sid "Freeze"`},
		{name: "deny in a later identity policy", identity: []string{allowAll, doc(`{"Effect":"Deny","Action":"ecr:*","Resource":"*"}`)},
			who: alice, reason: "identity policy #1, Statement[0]"},
		{name: "deny for another action does not apply", identity: []string{allowAll, doc(`{"Effect":"Deny","Action":"ecr:Delete*","Resource":"*"}`)},
			who: alice, allowed: true},
		{name: "NotAction allow", identity: []string{doc(`{"Effect":"Allow","NotAction":"ecr:BatchDeleteImage","Resource":"*"}`)},
			who: alice, action: "ecr:PutImage", allowed: true},
		{name: "NotAction allow excludes", identity: []string{doc(`{"Effect":"Allow","NotAction":["ecr:BatchDeleteImage","ecr:Delete*"],"Resource":"*"}`)},
			who: alice, action: "ecr:DeleteRepository"},
		{name: "NotAction deny", identity: []string{allowAll, doc(`{"Sid":"ReadOnly","Effect":"Deny","NotAction":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Resource":"*"}`)},
			who: alice, action: "ecr:PutImage", sid: "ReadOnly"},
		{name: "NotAction deny lets listed through", identity: []string{allowAll, doc(`{"Effect":"Deny","NotAction":["ecr:BatchGetImage"],"Resource":"*"}`)},
			who: alice, allowed: true},
		{name: "NotResource deny outside team", identity: []string{allowAll, doc(`{"Sid":"TeamOnly","Effect":"Deny","Action":"ecr:*","NotResource":"arn:aws:ecr:*:111122223333:repository/team/*"}`)},
			who: alice, res: repo2, sid: "TeamOnly"},
		{name: "NotResource deny inside team", identity: []string{allowAll, doc(`{"Effect":"Deny","Action":"ecr:*","NotResource":"arn:aws:ecr:*:111122223333:repository/team/*"}`)},
			who: alice, allowed: true},
		{name: "NotPrincipal deny exempts listed user", identity: []string{allowAll},
			resource: []string{doc(`{"Sid":"OnlyAlicePushes","Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"ecr:PutImage"}`)},
			who:      alice, action: "ecr:PutImage", allowed: true},
		{name: "NotPrincipal deny hits others", identity: []string{allowAll},
			resource: []string{doc(`{"Sid":"OnlyAlicePushes","Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"ecr:PutImage"}`)},
			who:      bob, action: "ecr:PutImage", sid: "OnlyAlicePushes"},
		{name: "NotPrincipal allow", resource: []string{doc(`{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"ecr:*"}`)},
			who: alice, allowed: true},
		{name: "NotPrincipal account excludes its users", identity: []string{allowAll},
			resource: []string{doc(`{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"ecr:*"}`)},
			who:      alice, allowed: true},
		{name: "resource wildcard per region and path", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:111122223333:repository/team/*"}`)},
			who: alice, allowed: true},
		{name: "resource ? wildcard", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:us-east-1:111122223333:repository/team/?pp"}`)},
			who: alice, allowed: true},
		{name: "resource other path", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:111122223333:repository/team/*"}`)},
			who: alice, res: repo2},
		{name: "resource match is case-sensitive", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:111122223333:repository/Team/*"}`)},
			who: alice},
		{name: "resource glob spans colons", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*"}`)},
			who: alice, allowed: true},
		{name: "resource list", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:*","Resource":["arn:aws:ecr:us-east-1:111122223333:repository/x","` + repo + `"]}`)},
			who: alice, allowed: true},
		{name: "nil policies are skipped", identity: []string{""}, resource: []string{""}, who: alice},

		// --- cross account ---
		{name: "cross: resource grants account, no identity policy", resource: []string{pullFor(`{"AWS":"444455556666"}`)},
			who: carol, reason: "allowed by resource policy #0, Sid \"Pull\" but by no identity policy"},
		{name: "cross: resource grants account and identity allows", identity: []string{allowAll}, resource: []string{pullFor(`{"AWS":"444455556666"}`)},
			who: carol, allowed: true, sid: "Pull", reason: `cross-account access allowed by identity policy #0, Sid "All" and resource policy #0, Sid "Pull"`},
		{name: "cross: resource grants root ARN and identity allows", identity: []string{allowAll}, resource: []string{pullFor(`{"AWS":"arn:aws:iam::444455556666:root"}`)},
			who: carol, allowed: true},
		{name: "cross: resource grants user and identity allows", identity: []string{allowAll}, resource: []string{pullFor(`{"AWS":"arn:aws:iam::444455556666:user/carol"}`)},
			who: carol, allowed: true},
		{name: "cross: identity only", identity: []string{allowAll}, who: carol, reason: "but by no resource policy"},
		{name: "cross: resource star needs identity too", resource: []string{pullFor(`"*"`)}, who: carol, reason: "no identity policy"},
		{name: "cross: resource star with identity", identity: []string{allowAll}, resource: []string{pullFor(`"*"`)}, who: carol, allowed: true},
		{name: "cross: identity allows a different action", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:PutImage","Resource":"*"}`)},
			resource: []string{pullFor(`{"AWS":"444455556666"}`)}, who: carol},
		{name: "cross: resource grants another account", identity: []string{allowAll}, resource: []string{pullFor(`{"AWS":"999999999999"}`)},
			who: carol},
		{name: "cross: identity deny wins", identity: []string{allowAll, doc(`{"Sid":"NoECR","Effect":"Deny","Action":"ecr:*","Resource":"*"}`)},
			resource: []string{pullFor(`"*"`)}, who: carol, sid: "NoECR"},
		{name: "cross: nothing", who: carol, reason: "no policy allows cross-account"},
		{name: "ResourceAccount overrides the ARN's account", identity: []string{allowAll}, who: carol, resAcct: acctB, allowed: true},
		{name: "resource account derived from the ARN", identity: []string{allowAll}, who: carol,
			res: "arn:aws:ecr:us-east-1:444455556666:repository/x", allowed: true},

		// --- anonymous ---
		{name: "anon: resource star", resource: []string{pullFor(`"*"`)}, who: anon, allowed: true, sid: "Pull", reason: "anonymous access allowed"},
		{name: "anon: resource AWS star", resource: []string{pullFor(`{"AWS":"*"}`)}, who: anon, allowed: true},
		{name: "anon: account grant does not match", resource: []string{pullFor(`{"AWS":"111122223333"}`)}, who: anon, reason: "anonymous"},
		{name: "anon: identity policies ignored", identity: []string{allowAll}, who: anon},
		{name: "anon: deny star", resource: []string{pullFor(`"*"`), doc(`{"Sid":"NoAnonPull","Effect":"Deny","Principal":"*","Action":"ecr:*","Condition":{"Null":{"aws:PrincipalAccount":"true"}}}`)},
			who: anon, sid: "NoAnonPull"},
		{name: "anon: NotPrincipal deny applies", resource: []string{pullFor(`"*"`), doc(`{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"ecr:*"}`)},
			who: anon},
		{name: "anon: AccountID ignored", resource: []string{pullFor(`{"AWS":"111122223333"}`)}, who: Principal{Anonymous: true, AccountID: acctA}},
	}
}

func conditionCases() []authzCase {
	c := func(name, condition string, ctx Context, allowed bool) authzCase {
		return authzCase{name: name, identity: []string{cond(condition)}, who: alice, ctx: ctx, allowed: allowed}
	}
	return []authzCase{
		// String
		c("StringEquals match", `{"StringEquals":{"ecr:ResourceTag/team":"platform"}}`, Context{"ecr:ResourceTag/team": {"platform"}}, true),
		c("StringEquals mismatch", `{"StringEquals":{"ecr:ResourceTag/team":"platform"}}`, Context{"ecr:ResourceTag/team": {"Platform"}}, false),
		c("StringEquals missing key", `{"StringEquals":{"ecr:ResourceTag/team":"platform"}}`, nil, false),
		c("StringEquals values are ORed", `{"StringEquals":{"ecr:ResourceTag/team":["web","platform"]}}`, Context{"ecr:ResourceTag/team": {"platform"}}, true),
		c("StringEquals key case-insensitive", `{"StringEquals":{"ECR:RESOURCETAG/TEAM":"platform"}}`, Context{"ecr:ResourceTag/team": {"platform"}}, true),
		c("StringEquals context key case-insensitive", `{"StringEquals":{"ecr:ResourceTag/team":"platform"}}`, Context{"Ecr:resourcetag/Team": {"platform"}}, true),
		c("StringEquals number coerced", `{"StringEquals":{"wharf:Level":3}}`, Context{"wharf:Level": {"3"}}, true),
		c("StringEquals bool coerced", `{"StringEquals":{"wharf:Flag":true}}`, Context{"wharf:Flag": {"true"}}, true),
		c("StringEquals derived aws:PrincipalAccount", `{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}`, nil, true),
		c("StringEquals derived aws:username", `{"StringEquals":{"aws:username":"alice"}}`, nil, true),
		c("StringEquals derived aws:PrincipalType", `{"StringEquals":{"aws:PrincipalType":"User"}}`, nil, true),
		c("StringEquals context overrides derived", `{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}`, Context{"aws:PrincipalAccount": {"000000000000"}}, false),
		c("StringEquals two keys ANDed", `{"StringEquals":{"wharf:A":"1","wharf:B":"2"}}`, Context{"wharf:A": {"1"}, "wharf:B": {"3"}}, false),
		c("two operators ANDed", `{"StringEquals":{"wharf:A":"1"},"Bool":{"aws:SecureTransport":"true"}}`, Context{"wharf:A": {"1"}, "aws:SecureTransport": {"true"}}, true),
		c("StringNotEquals match", `{"StringNotEquals":{"ecr:ResourceTag/env":"prod"}}`, Context{"ecr:ResourceTag/env": {"dev"}}, true),
		c("StringNotEquals mismatch", `{"StringNotEquals":{"ecr:ResourceTag/env":"prod"}}`, Context{"ecr:ResourceTag/env": {"prod"}}, false),
		c("StringNotEquals NOR of values", `{"StringNotEquals":{"ecr:ResourceTag/env":["prod","staging"]}}`, Context{"ecr:ResourceTag/env": {"staging"}}, false),
		c("StringNotEquals missing key is true", `{"StringNotEquals":{"ecr:ResourceTag/env":"prod"}}`, nil, true),
		c("StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"wharf:Team":"PLATFORM"}}`, Context{"wharf:Team": {"platform"}}, true),
		c("StringNotEqualsIgnoreCase", `{"StringNotEqualsIgnoreCase":{"wharf:Team":"PLATFORM"}}`, Context{"wharf:Team": {"Platform"}}, false),
		c("StringLike star", `{"StringLike":{"wharf:Tag":"v*-prod"}}`, Context{"wharf:Tag": {"v1.2.3-prod"}}, true),
		c("StringLike question", `{"StringLike":{"wharf:Tag":"v?"}}`, Context{"wharf:Tag": {"v12"}}, false),
		c("StringLike case-sensitive", `{"StringLike":{"wharf:Tag":"V*"}}`, Context{"wharf:Tag": {"v1"}}, false),
		c("StringNotLike", `{"StringNotLike":{"wharf:Tag":"*-dev"}}`, Context{"wharf:Tag": {"1.0-dev"}}, false),
		c("StringNotLike passes", `{"StringNotLike":{"wharf:Tag":"*-dev"}}`, Context{"wharf:Tag": {"1.0"}}, true),
		c("StringEqualsIfExists missing", `{"StringEqualsIfExists":{"wharf:Team":"web"}}`, nil, true),
		c("StringEqualsIfExists present mismatch", `{"StringEqualsIfExists":{"wharf:Team":"web"}}`, Context{"wharf:Team": {"db"}}, false),
		c("StringNotEqualsIfExists missing", `{"StringNotEqualsIfExists":{"wharf:Team":"web"}}`, nil, true),
		c("empty value list counts as missing", `{"StringEquals":{"wharf:Team":"web"}}`, Context{"wharf:Team": {}}, false),

		// Numeric
		c("NumericLessThanEquals below", `{"NumericLessThanEquals":{"wharf:ImageMaxSeverity":3}}`, Context{"wharf:ImageMaxSeverity": {"2"}}, true),
		c("NumericLessThanEquals equal", `{"NumericLessThanEquals":{"wharf:ImageMaxSeverity":"3"}}`, Context{"wharf:ImageMaxSeverity": {"3"}}, true),
		c("NumericLessThanEquals above", `{"NumericLessThanEquals":{"wharf:ImageMaxSeverity":3}}`, Context{"wharf:ImageMaxSeverity": {"4"}}, false),
		c("NumericLessThan", `{"NumericLessThan":{"wharf:N":"3"}}`, Context{"wharf:N": {"3"}}, false),
		c("NumericGreaterThan", `{"NumericGreaterThan":{"wharf:N":"2.5"}}`, Context{"wharf:N": {"3"}}, true),
		c("NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"wharf:N":"-1"}}`, Context{"wharf:N": {"-1"}}, true),
		c("NumericEquals int vs float", `{"NumericEquals":{"wharf:N":"1.0"}}`, Context{"wharf:N": {"1"}}, true),
		c("NumericEquals large ints exact", `{"NumericEquals":{"wharf:N":"9007199254740993"}}`, Context{"wharf:N": {"9007199254740992"}}, false),
		c("NumericNotEquals", `{"NumericNotEquals":{"wharf:N":["1","2"]}}`, Context{"wharf:N": {"3"}}, true),
		c("NumericNotEquals missing", `{"NumericNotEquals":{"wharf:N":"1"}}`, nil, true),
		c("Numeric request not a number", `{"NumericLessThan":{"wharf:N":"10"}}`, Context{"wharf:N": {"high"}}, false),
		c("NumericLessThanIfExists missing", `{"NumericLessThanIfExists":{"wharf:N":"10"}}`, nil, true),

		// Date
		c("DateLessThan CurrentTime before", `{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`, Context{"aws:CurrentTime": {"2026-05-01T12:00:00Z"}}, true),
		c("DateLessThan CurrentTime after", `{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`, Context{"aws:CurrentTime": {"2031-01-01T00:00:00Z"}}, false),
		c("DateLessThan date only", `{"DateLessThan":{"aws:CurrentTime":"2030-01-01"}}`, Context{"aws:CurrentTime": {"2029-12-31T23:59:59Z"}}, true),
		c("DateLessThan with zone offset", `{"DateLessThan":{"aws:CurrentTime":"2030-01-01T01:00:00+02:00"}}`, Context{"aws:CurrentTime": {"2029-12-31T23:30:00Z"}}, false),
		c("DateLessThan missing key", `{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`, nil, false),
		c("DateLessThanIfExists missing key", `{"DateLessThanIfExists":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`, nil, true),
		c("DateGreaterThanEquals EpochTime vs ISO", `{"DateGreaterThanEquals":{"aws:EpochTime":"2026-01-01T00:00:00Z"}}`, Context{"aws:EpochTime": {"1767225600"}}, true),
		c("DateGreaterThan epoch policy value", `{"DateGreaterThan":{"aws:CurrentTime":"1767225600"}}`, Context{"aws:CurrentTime": {"2026-01-01T00:00:01Z"}}, true),
		c("DateLessThanEquals", `{"DateLessThanEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, Context{"aws:CurrentTime": {"2026-01-01T00:00:00.000Z"}}, true),
		c("DateEquals", `{"DateEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, Context{"aws:CurrentTime": {"2026-01-01T01:00:00+01:00"}}, true),
		c("DateNotEquals", `{"DateNotEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, Context{"aws:CurrentTime": {"2026-01-01T00:00:00Z"}}, false),
		c("Date fractional epoch", `{"DateGreaterThan":{"aws:EpochTime":"1767225600"}}`, Context{"aws:EpochTime": {"1767225600.5"}}, true),
		c("Date no zone is UTC", `{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00"}}`, Context{"aws:CurrentTime": {"2025-12-31T23:59"}}, true),
		c("Date request not a date", `{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01"}}`, Context{"aws:CurrentTime": {"tomorrow"}}, false),

		// Bool
		c("Bool SecureTransport true", `{"Bool":{"aws:SecureTransport":"true"}}`, Context{"aws:SecureTransport": {"true"}}, true),
		c("Bool SecureTransport false", `{"Bool":{"aws:SecureTransport":true}}`, Context{"aws:SecureTransport": {"false"}}, false),
		c("Bool case-insensitive", `{"Bool":{"aws:SecureTransport":"TRUE"}}`, Context{"aws:SecureTransport": {"True"}}, true),
		c("Bool missing", `{"Bool":{"aws:SecureTransport":"false"}}`, nil, false),
		c("BoolIfExists missing", `{"BoolIfExists":{"aws:SecureTransport":"true"}}`, nil, true),
		c("Bool request not a bool", `{"Bool":{"aws:SecureTransport":"true"}}`, Context{"aws:SecureTransport": {"yes"}}, false),
		{name: "Deny unless SecureTransport", identity: []string{allowAll, doc(`{"Sid":"TLS","Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`)},
			who: alice, ctx: Context{"aws:SecureTransport": {"false"}}, sid: "TLS"},

		// Binary
		c("BinaryEquals", `{"BinaryEquals":{"wharf:Blob":"aGVsbG8="}}`, Context{"wharf:Blob": {"aGVsbG8="}}, true),
		c("BinaryEquals mismatch", `{"BinaryEquals":{"wharf:Blob":"aGVsbG8="}}`, Context{"wharf:Blob": {"aGVsbG8h"}}, false),

		// IP
		c("IpAddress v4 CIDR in", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, Context{"aws:SourceIp": {"203.0.113.77"}}, true),
		c("IpAddress v4 CIDR out", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, Context{"aws:SourceIp": {"203.0.114.1"}}, false),
		c("IpAddress single address", `{"IpAddress":{"aws:SourceIp":"198.51.100.7"}}`, Context{"aws:SourceIp": {"198.51.100.7"}}, true),
		c("IpAddress unmasked CIDR", `{"IpAddress":{"aws:SourceIp":"10.1.2.3/8"}}`, Context{"aws:SourceIp": {"10.200.0.1"}}, true),
		c("IpAddress v6 CIDR", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, Context{"aws:SourceIp": {"2001:db8:1::5"}}, true),
		c("IpAddress v6 out", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, Context{"aws:SourceIp": {"2001:db9::1"}}, false),
		c("IpAddress v4 rule v6 request", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, Context{"aws:SourceIp": {"2001:db8::1"}}, false),
		c("IpAddress v4-mapped request", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, Context{"aws:SourceIp": {"::ffff:203.0.113.9"}}, true),
		c("IpAddress list", `{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}`, Context{"aws:SourceIp": {"2001:db8::9"}}, true),
		c("NotIpAddress outside", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, Context{"aws:SourceIp": {"192.0.2.1"}}, true),
		c("NotIpAddress inside", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, Context{"aws:SourceIp": {"10.9.9.9"}}, false),
		c("IpAddress request garbage", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, Context{"aws:SourceIp": {"not-an-ip"}}, false),

		// ARN
		c("ArnLike principal ARN", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/a*"}}`, nil, true),
		c("ArnLike no match", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/b*"}}`, nil, false),
		c("ArnEquals exact", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/alice"}}`, nil, true),
		c("ArnEquals also takes wildcards", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/*"}}`, nil, true),
		c("ArnLike wildcard does not span segments", `{"ArnLike":{"wharf:Src":"arn:*:iam:*:*:*"}}`, Context{"wharf:Src": {"arn:aws:x:iam::1:user"}}, false),
		c("ArnLike same pattern, aligned segments", `{"ArnLike":{"wharf:Src":"arn:*:iam:*:*:*"}}`, Context{"wharf:Src": {"arn:aws:iam::1:user"}}, true),
		c("ArnLike star segment", `{"ArnLike":{"wharf:Src":"arn:aws:ecr:*:*:repository/*"}}`, Context{"wharf:Src": {repo}}, true),
		c("ArnLike request not an ARN", `{"ArnLike":{"wharf:Src":"arn:*:*:*:*:*"}}`, Context{"wharf:Src": {"repository/x"}}, false),
		c("ArnLike resource part keeps colons", `{"ArnLike":{"wharf:Src":"arn:aws:logs:*:*:log-group:*"}}`, Context{"wharf:Src": {"arn:aws:logs:us-east-1:1:log-group:x:y"}}, true),
		c("ArnNotLike", `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/bob"}}`, nil, true),
		c("ArnNotEquals missing", `{"ArnNotEquals":{"wharf:Src":"arn:aws:iam::1:user/x"}}`, nil, true),

		// Null
		c("Null true when absent", `{"Null":{"aws:RequestTag/env":"true"}}`, nil, true),
		c("Null true when present", `{"Null":{"aws:RequestTag/env":"true"}}`, Context{"aws:RequestTag/env": {"dev"}}, false),
		c("Null false when present", `{"Null":{"aws:RequestTag/env":"false"}}`, Context{"aws:RequestTag/env": {"dev"}}, true),
		c("Null false when absent", `{"Null":{"aws:RequestTag/env":false}}`, nil, false),

		// Set operators on aws:TagKeys
		c("ForAllValues subset", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, Context{"aws:TagKeys": {"env"}}, true),
		c("ForAllValues all present", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, Context{"aws:TagKeys": {"team", "env"}}, true),
		c("ForAllValues extra key", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, Context{"aws:TagKeys": {"env", "owner"}}, false),
		c("ForAllValues missing key is true", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, nil, true),
		c("ForAnyValue one matches", `{"ForAnyValue:StringEquals":{"aws:TagKeys":"env"}}`, Context{"aws:TagKeys": {"x", "env"}}, true),
		c("ForAnyValue none", `{"ForAnyValue:StringEquals":{"aws:TagKeys":"env"}}`, Context{"aws:TagKeys": {"x", "y"}}, false),
		c("ForAnyValue missing key is false", `{"ForAnyValue:StringEquals":{"aws:TagKeys":"env"}}`, nil, false),
		c("ForAnyValue StringNotEquals", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}`, Context{"aws:TagKeys": {"env", "other"}}, true),
		c("ForAnyValue StringNotEquals all listed", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}`, Context{"aws:TagKeys": {"env"}}, false),
		c("ForAllValues StringLike", `{"ForAllValues:StringLike":{"aws:TagKeys":["team-*","env"]}}`, Context{"aws:TagKeys": {"team-a", "env"}}, true),
		c("ForAllValues StringNotEquals", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}`, Context{"aws:TagKeys": {"a", "secret"}}, false),
		c("ForAllValues IfExists missing", `{"ForAllValues:StringEqualsIfExists":{"aws:TagKeys":["a"]}}`, nil, true),
		c("ForAnyValue IfExists missing", `{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["a"]}}`, nil, true),
		c("no set prefix multi-valued positive is any", `{"StringEquals":{"aws:TagKeys":"env"}}`, Context{"aws:TagKeys": {"x", "env"}}, true),
		c("no set prefix multi-valued negated is none", `{"StringNotEquals":{"aws:TagKeys":"env"}}`, Context{"aws:TagKeys": {"x", "env"}}, false),
		c("ForAnyValue NumericLessThan", `{"ForAnyValue:NumericLessThan":{"wharf:Scores":"5"}}`, Context{"wharf:Scores": {"9", "3"}}, true),
		c("ForAllValues NumericLessThan", `{"ForAllValues:NumericLessThan":{"wharf:Scores":"5"}}`, Context{"wharf:Scores": {"9", "3"}}, false),

		// Policy variables
		{name: "variable in resource", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:${aws:PrincipalAccount}:repository/${aws:username}/*"}`)},
			who: alice, res: "arn:aws:ecr:us-east-1:111122223333:repository/alice/app", allowed: true},
		{name: "variable in resource, other user's path", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:*:repository/${aws:username}/*"}`)},
			who: bob, res: "arn:aws:ecr:us-east-1:111122223333:repository/alice/app"},
		{name: "variable value matched literally", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:*:repository/${wharf:Team}/app"}`)},
			who: alice, ctx: Context{"wharf:Team": {"*"}}, res: repo},
		{name: "variable not substituted in 2008 policies", identity: []string{`{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:*:repository/${aws:username}/*"}}`},
			who: alice, res: "arn:aws:ecr:us-east-1:111122223333:repository/alice/app"},
		{name: "variable absent: statement ignored", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:*:repository/${aws:username}/*"}`)},
			who: rootA, res: "arn:aws:ecr:us-east-1:111122223333:repository/alice/app"},
		{name: "variable default", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:*:repository/${aws:username, 'shared'}/*"}`)},
			who: rootA, res: "arn:aws:ecr:us-east-1:111122223333:repository/shared/app", allowed: true},
		{name: "variable literal star", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:*:repository/${*}"}`)},
			who: alice, res: "arn:aws:ecr:us-east-1:111122223333:repository/*", allowed: true},
		{name: "variable literal star is not a wildcard", identity: []string{doc(`{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:*:repository/${*}"}`)},
			who: alice},
		c("variable in condition", `{"StringEquals":{"ecr:ResourceTag/owner":"${aws:username}"}}`, Context{"ecr:ResourceTag/owner": {"alice"}}, true),
		c("variable in StringLike", `{"StringLike":{"wharf:Path":"${aws:username}/*"}}`, Context{"wharf:Path": {"alice/x"}}, true),
		c("variable in ArnLike", `{"ArnLike":{"wharf:Src":"arn:aws:ecr:*:${aws:PrincipalAccount}:repository/*"}}`, Context{"wharf:Src": {repo}}, true),
		c("variable unresolved in condition", `{"StringEquals":{"wharf:X":"${wharf:Missing}"}}`, Context{"wharf:X": {""}}, false),
		c("malformed variable is literal", `{"StringEquals":{"wharf:X":"${oops"}}`, Context{"wharf:X": {"${oops"}}, true),
	}
}

func parseAll(t testing.TB, docs []string) []*Policy {
	t.Helper()
	var out []*Policy
	for _, d := range docs {
		if d == "" {
			out = append(out, nil)
			continue
		}
		p, err := Parse([]byte(d))
		if err != nil {
			t.Fatalf("Parse(%s): %v", d, err)
		}
		out = append(out, p)
	}
	return out
}

func runAuthz(t *testing.T, cases []authzCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := Request{Principal: tc.who, Action: tc.action, Resource: tc.res, ResourceAccount: tc.resAcct, Context: tc.ctx}
			if req.Action == "" {
				req.Action = "ecr:BatchGetImage"
			}
			if req.Resource == "" {
				req.Resource = repo
			}
			d := Authorize(req, parseAll(t, tc.identity), parseAll(t, tc.resource))
			if d.Allowed != tc.allowed {
				t.Fatalf("Allowed = %v, want %v (reason: %s)", d.Allowed, tc.allowed, d.Reason)
			}
			if tc.sid != "" && d.MatchedSid != tc.sid {
				t.Errorf("MatchedSid = %q, want %q (reason: %s)", d.MatchedSid, tc.sid, d.Reason)
			}
			if tc.reason != "" && !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("Reason = %q, want it to contain %q", d.Reason, tc.reason)
			}
			if d.Reason == "" {
				t.Errorf("empty Reason")
			}
		})
	}
}

func TestAuthorize(t *testing.T)           { runAuthz(t, authzCases()) }
func TestAuthorizeConditions(t *testing.T) { runAuthz(t, conditionCases()) }

func TestEvaluate(t *testing.T) {
	p, err := Parse([]byte(doc(
		`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"ecr:*"}`,
		`{"Effect":"Deny","Principal":"*","Action":"ecr:BatchDeleteImage"}`,
	)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		who    Principal
		action string
		want   Effect
	}{
		{alice, "ecr:PutImage", Allow},
		{rootA, "ecr:PutImage", Allow},
		{carol, "ecr:PutImage", NoMatch},
		{anon, "ecr:PutImage", NoMatch},
		{carol, "ecr:BatchDeleteImage", Deny},
		{alice, "ecr:batchdeleteimage", Deny},
	} {
		if got := p.Evaluate(Request{Principal: tc.who, Action: tc.action, Resource: repo}); got != tc.want {
			t.Errorf("%v %s: got %v, want %v", tc.who, tc.action, got, tc.want)
		}
	}
}

func TestHandBuiltPolicy(t *testing.T) {
	p := &Policy{Version: Version2012, Statement: []Statement{{
		Effect: Allow, Action: []string{"ecr:*"}, Resource: []string{"*"},
	}}}
	req := Request{Principal: alice, Action: "ecr:PutImage", Resource: repo}
	if got := p.Evaluate(req); got != Allow {
		t.Fatalf("valid hand-built policy: got %v", got)
	}
	bad := &Policy{Statement: []Statement{{Effect: Allow, Action: []string{"nope"}, Resource: []string{"*"}}}}
	if got := bad.Evaluate(req); got != Deny {
		t.Fatalf("invalid hand-built policy: got %v, want Deny", got)
	}
	d := Authorize(req, []*Policy{p}, []*Policy{bad})
	if d.Allowed || !strings.Contains(d.Reason, "resource policy #0 is invalid") {
		t.Fatalf("Authorize with invalid policy: %+v", d)
	}
}

func TestContext(t *testing.T) {
	c := Context{"aws:SourceIp": {"1.2.3.4"}}
	if v, ok := c.Get("AWS:SOURCEIP"); !ok || v[0] != "1.2.3.4" {
		t.Fatalf("Get: %v %v", v, ok)
	}
	c.Set("aws:sourceip", "5.6.7.8")
	if len(c) != 1 {
		t.Fatalf("Set kept a duplicate: %v", c)
	}
	if v, _ := c.Get("aws:SourceIP"); v[0] != "5.6.7.8" {
		t.Fatalf("Set: %v", c)
	}
	var nilCtx Context
	if _, ok := nilCtx.Get("x:y"); ok {
		t.Fatal("nil context has a key")
	}
}

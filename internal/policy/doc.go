// Package policy is Wharf's IAM policy language engine: it parses,
// validates and evaluates the JSON policy documents AWS defines for ECR
// identity policies (attached to users), repository policies and registry
// policies (attached to resources). It is pure: no I/O, no clock, no
// storage; callers bring the documents and the request.
//
// # Parsing
//
// Parse reads a document (Version 2012-10-17 or 2008-10-17, the latter
// when absent; Id; Statement as an object or an array) and checks every
// element, returning an *Error such as
//
//	Statement[1]: Invalid effect "Alow": must be "Allow" or "Deny"
//
// Statements have Sid, Effect, Action or NotAction, optionally Resource or
// NotResource, Principal or NotPrincipal, and Condition. Policy.Validate
// adds the rules of a Kind: an Identity policy names no principal and
// needs a Resource; a Resource policy needs a Principal. MarshalJSON
// writes a canonical document that parses back to an equivalent policy.
//
// # Matching
//
// Actions match case-insensitively with the wildcards '*' and '?'
// ("ecr:Get*"). Resources match case-sensitively, the wildcards spanning
// the whole ARN. ArnEquals and ArnLike match each of the six
// colon-separated ARN segments separately. Principals: "*" (and
// {"AWS": "*"}) is everyone, anonymous callers included; an account id or
// arn:aws:iam::ACCOUNT:root is every principal of that account; a user
// ARN is that user. Conditions support every AWS operator family (String,
// Numeric, Date, Bool, Binary, IpAddress, Arn, Null) with the IfExists
// suffix and the ForAnyValue:/ForAllValues: set prefixes, and follow AWS's
// rules for missing keys (see the Context type). In 2012-10-17 documents,
// policy variables such as ${aws:username} are substituted in resources and
// in string and ARN condition values.
//
// # Deciding
//
// Policy.Evaluate gives one policy's effect on a Request (Allow, Deny or
// NoMatch). Authorize combines the identity policies of the principal
// with the resource policies of the resource as AWS does: an explicit
// Deny anywhere wins; within one account an Allow from either kind
// suffices; across accounts both kinds must allow; anonymous callers need
// a resource policy that grants "*". Decision.Reason says which policy and
// statement decided.
package policy

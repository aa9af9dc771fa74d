package policy_test

import (
	"fmt"

	"github.com/wharfhq/wharf/internal/policy"
)

func Example() {
	repoPolicy, err := policy.Parse([]byte(`{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Sid": "CrossAccountPull",
	    "Effect": "Allow",
	    "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
	    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
	  }]
	}`))
	if err != nil {
		panic(err)
	}
	if err := repoPolicy.ValidateResource(); err != nil {
		panic(err)
	}
	userPolicy, err := policy.Parse([]byte(`{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Sid": "PullOverTLS",
	    "Effect": "Allow",
	    "Action": "ecr:Get*",
	    "Resource": "arn:aws:ecr:*:111122223333:repository/*",
	    "Condition": {"Bool": {"aws:SecureTransport": "true"}}
	  }]
	}`))
	if err != nil {
		panic(err)
	}

	req := policy.Request{
		Principal: policy.Principal{AccountID: "444455556666", ARN: "arn:aws:iam::444455556666:user/ci"},
		Action:    "ecr:GetDownloadUrlForLayer",
		Resource:  "arn:aws:ecr:us-east-1:111122223333:repository/team/app",
		Context:   policy.Context{"aws:SecureTransport": {"true"}},
	}
	d := policy.Authorize(req, []*policy.Policy{userPolicy}, []*policy.Policy{repoPolicy})
	fmt.Println(d.Allowed, d.MatchedSid)
	fmt.Println(d.Reason)

	req.Context["aws:SecureTransport"] = []string{"false"}
	fmt.Println(policy.Authorize(req, []*policy.Policy{userPolicy}, []*policy.Policy{repoPolicy}).Reason)

	_, err = policy.Parse([]byte(`{"Statement":[{"Effect":"Alow","Action":"ecr:*","Resource":"*"}]}`))
	fmt.Println(err)
	// Output:
	// true CrossAccountPull
	// cross-account access allowed by identity policy #0, Sid "PullOverTLS" and resource policy #0, Sid "CrossAccountPull"
	// implicit deny: cross-account ecr:GetDownloadUrlForLayer on arn:aws:ecr:us-east-1:111122223333:repository/team/app is allowed by resource policy #0, Sid "CrossAccountPull" but by no identity policy
	// Statement[0]: Invalid effect "Alow": must be "Allow" or "Deny"
}

// Package awsjson is a server for the AWS JSON 1.1 protocol ("awsJson1_1"),
// the wire format of Amazon ECR and many other AWS services. It knows nothing
// about ECR: a service package generated from an AWS service model (see
// internal/awsjson/gen and internal/awsjson/ecrapi) supplies typed inputs,
// outputs, validation and errors, and registers handlers on a [Handler].
//
// The wire protocol, as served here:
//
//   - Requests are POST with a JSON body and the header
//     "X-Amz-Target: <TargetPrefix>.<Operation>". An empty body means {}.
//   - Successful responses are 200 with Content-Type
//     application/x-amz-json-1.1 and the output structure as JSON.
//   - Errors are {"__type": "<Code>", "message": "..."} with the error's HTTP
//     status (400 unless the error says otherwise) and an x-amzn-ErrorType
//     header. Every response carries x-amzn-RequestId.
//   - Timestamps are epoch seconds as JSON numbers ([Timestamp]); blobs are
//     base64 strings ([]byte in Go).
//
// Errors returned by handlers are classified by behaviour, not by type: any
// error (possibly wrapped) with an ErrorCode() string method is an API error,
// optionally with HTTPStatus() int, ErrorMessage() string (else an exported
// Message field is the message, else Error()) and ErrorMembers() any (extra
// members of the error body). Anything else is an internal failure: logged,
// and answered 500 without details. Client errors are logged at debug level.
package awsjson

// Package ecrapi is the Amazon ECR API (2015-09-21) as Go types, generated
// from the ECR service model by internal/awsjson/gen: one struct per
// structure shape, one string type per enum, one error type per exception,
// the operation table Operations, a <Op>API interface per operation, and
// validation of every input against the model's constraints.
//
// # Serving operations
//
// A server implements any subset of [Service] (one method per operation,
// the <Op>API interfaces) and registers it:
//
//	type server struct{ ... }
//
//	func (s *server) CreateRepository(ctx context.Context, in *ecrapi.CreateRepositoryInput) (*ecrapi.CreateRepositoryOutput, error) {
//		// in is decoded and validated: in.RepositoryName is set and matches the model.
//		if exists {
//			return nil, ecrapi.NewRepositoryAlreadyExistsException("The repository with name '" + *in.RepositoryName + "' already exists in the registry with id '" + account + "'")
//		}
//		return &ecrapi.CreateRepositoryOutput{Repository: &ecrapi.Repository{
//			RepositoryName: in.RepositoryName,
//			CreatedAt:      awsjson.NewTimestamp(time.Now()),
//		}}, nil
//	}
//
//	h := ecrapi.NewHandler(&server{}) // an *awsjson.Handler; operations not implemented answer 501
//	h.Authenticate = ...
//
// A single operation can also be registered with a function:
//
//	awsjson.Register(h, "CreateRepository", func(ctx context.Context, in *ecrapi.CreateRepositoryInput) (*ecrapi.CreateRepositoryOutput, error) { ... })
//
// Handlers return the generated error types (NewRepositoryNotFoundException
// and so on), or any error implementing ErrorCode() string; other errors are
// answered 500 ServerException and logged.
//
// # Go representation of the model
//
// Optional and required members alike are pointers (*string, *int32,
// *int64, *bool, *float64, *awsjson.Timestamp, *Struct, *Enum), so that
// validation can tell an absent member (Value null ... Member must not be
// null) from an empty one, and an output can carry false or 0 explicitly.
// Lists are slices, maps are maps and blobs are []byte, with nil meaning
// absent. Every member is tagged omitzero rather than omitempty: both omit
// nil, but omitzero keeps an empty non-nil list, which AWS sends as
// "imageIds": []. List elements and map values are plain values. Use
// awsjson.Ptr and awsjson.Deref (or this package's Ptr and Deref) to build
// and read pointer members.
//
// Timestamps are awsjson.Timestamp: epoch seconds with a millisecond
// fraction on the wire. Blobs are base64 on the wire (encoding/json's []byte
// encoding).
//
// Operation inputs and outputs are named <Operation>Input and
// <Operation>Output (the model calls them <Operation>Request and
// <Operation>Response); every other type has its shape's name.
package ecrapi

//go:generate go run ../gen -model ../../../../shared/ecr-api/ecr-service-2.json -paginators ../../../../shared/ecr-api/ecr-paginators-1.json -pkg ecrapi -out zz_generated.go

package emulator

import (
	"fmt"
	"net/http"
)

// errorNamespace prefixes "__type" as AWS does for both DynamoDB and
// DynamoDB Streams; the SDK strips everything up to '#'.
const errorNamespace = "com.amazonaws.dynamodb.v20120810#"

// apiError is an error as AWS sends it: an HTTP status and a JSON body
// {"__type": namespace#Code, "message": ...}.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func newAPIError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func errValidation(format string, args ...any) *apiError {
	return newAPIError(http.StatusBadRequest, "ValidationException", format, args...)
}

func errNotFound(format string, args ...any) *apiError {
	return newAPIError(http.StatusBadRequest, "ResourceNotFoundException", format, args...)
}

func errInUse(format string, args ...any) *apiError {
	return newAPIError(http.StatusBadRequest, "ResourceInUseException", format, args...)
}

func errTrimmed(format string, args ...any) *apiError {
	return newAPIError(http.StatusBadRequest, "TrimmedDataAccessException", format, args...)
}

func errExpired(format string, args ...any) *apiError {
	return newAPIError(http.StatusBadRequest, "ExpiredIteratorException", format, args...)
}

func errInternal(format string, args ...any) *apiError {
	return newAPIError(http.StatusInternalServerError, "InternalServerError", format, args...)
}

func errUnknownOperation(target string) *apiError {
	return newAPIError(http.StatusBadRequest, "UnknownOperationException", "unknown operation %q", target)
}

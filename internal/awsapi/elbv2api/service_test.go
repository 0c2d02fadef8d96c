package elbv2api

import "net/http"

// awsService is internal/awsapi's Service, restated so that this package
// need not import the framework that dispatches to it.
type awsService interface {
	http.Handler
	WriteAuthError(w http.ResponseWriter, r *http.Request, status int, code, message string)
}

var _ awsService = (*Service)(nil)

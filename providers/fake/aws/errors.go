package awsfake

import (
	"encoding/xml"
	"net/http"
)

// apiError is an AWS error before it is put in the service's wire shape.
type apiError struct {
	Status  int
	Code    string
	Message string

	receiver bool // query protocol <Type>Receiver</Type> (server-side fault)

	// S3 extras, written when set.
	bucket, key, region string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

var queryNamespace = map[string]string{
	"iam": "https://iam.amazonaws.com/doc/2010-05-08/",
	"sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}

// writeQueryError writes the query protocol's ErrorResponse:
//
//	<ErrorResponse xmlns="…"><Error><Type>Sender</Type><Code>…</Code><Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>
func writeQueryError(w http.ResponseWriter, svc, reqID string, e *apiError) {
	type errEl struct {
		Type    string
		Code    string
		Message string
	}
	doc := struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		Error     errEl
		RequestID string `xml:"RequestId"`
	}{Xmlns: queryNamespace[svc], Error: errEl{Type: "Sender", Code: e.Code, Message: e.Message}, RequestID: reqID}
	if e.receiver {
		doc.Error.Type = "Receiver"
	}
	out, _ := xml.Marshal(doc)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.WriteHeader(e.Status)
	_, _ = w.Write(out)
}

// writeS3Error writes S3's REST error document (no body for HEAD, as S3).
func writeS3Error(w http.ResponseWriter, r *http.Request, reqID string, e *apiError) {
	doc := struct {
		XMLName    xml.Name `xml:"Error"`
		Code       string
		Message    string
		BucketName string `xml:",omitempty"`
		Key        string `xml:",omitempty"`
		Region     string `xml:",omitempty"`
		RequestID  string `xml:"RequestId"`
		HostID     string `xml:"HostId"`
	}{Code: e.Code, Message: e.Message, BucketName: e.bucket, Key: e.key, Region: e.region, RequestID: reqID, HostID: reqID}
	w.Header().Set("X-Amz-Request-Id", reqID)
	w.Header().Set("X-Amz-Id-2", reqID)
	if r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	out, _ := xml.Marshal(doc)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(e.Status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}

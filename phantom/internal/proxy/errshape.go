package proxy

import "net/http"

// errorBody is the JSON body of an answer the proxy gives itself (401,
// 403, 404, 400, 413, 429, 502). An SDK reads an error body in its
// provider's shape only; anything else it shows as a bare string or not at
// all. So a route whose SDK expects a known shape gets it, with phantom's
// whole explanation (what happened and what to do) in the message the SDK
// prints, and phantom's own fields beside it under "phantom"; every other
// route keeps phantom's flat shape (docs/phantom.md, "Errors from the
// proxy"). route is "" when no route is known.
//
// OpenAI: {"error": {"message", "type", "param", "code"}} (the OpenAI API
// reference's error object). Anthropic: {"type": "error", "error": {"type",
// "message"}} with the types of Anthropic's HTTP errors page.
func errorBody(route string, status int, msg, hint, detail string) map[string]any {
	text := "phantom proxy: " + msg
	if detail != "" {
		text += ": " + detail
	}
	if hint != "" {
		text += " (" + hint + ")"
	}
	own := map[string]any{"error": msg, "status": status}
	if hint != "" {
		own["hint"] = hint
	}
	if detail != "" {
		own["detail"] = detail
	}
	if route != "" {
		own["route"] = route
	}
	switch route {
	case "openai":
		return map[string]any{
			"error": map[string]any{
				"message": text,
				"type":    openAIType(status),
				"param":   nil,
				"code":    "phantom_proxy_" + codeWord(status),
			},
			"phantom": own,
		}
	case "anthropic":
		return map[string]any{
			"type":    "error",
			"error":   map[string]any{"type": anthropicType(status), "message": text},
			"phantom": own,
		}
	}
	return own
}

func openAIType(status int) string {
	switch {
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return "authentication_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status >= 500:
		return "server_error"
	}
	return "invalid_request_error"
}

func anthropicType(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// codeWord names a status in the OpenAI-shaped code, e.g.
// phantom_proxy_forbidden.
func codeWord(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusBadGateway:
		return "upstream_failed"
	}
	return "error"
}

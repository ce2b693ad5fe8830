package mcpserver

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// gateSpec is what a mutating call asks the human to approve.
type gateSpec struct {
	tool    string
	confirm bool
	dir     string
	// needsHuman: without elicitation the tool refuses and hands the
	// command to the human (remove, rotate) instead of acting on confirm.
	needsHuman bool
	message    string // the question shown to the human
	command    string // the CLI command the human can run instead
	args       any    // the call's arguments, bound to the approval
}

// pendingApproval is one question phantom asked the human and has not had an
// answer to. Only an answer to a question phantom asked, for the same tool
// and arguments, within its lifetime, counts: a client cannot pre-answer.
type pendingApproval struct {
	tool, hash string
	expires    time.Time
}

const approvalTTL = 10 * time.Minute

// approveField is the one field of the elicitation form. Acting needs
// action "accept" and this box ticked: a client that accepts forms by
// default without showing them still does not approve anything.
const approveField = "approve"

// gate decides whether a mutating call may act. nil means go on; otherwise
// the result to return (a refusal, or a request for the human's answer).
//
//  1. confirm must be true: the agent says the user agreed. The model sets
//     it itself, so on its own it is no human decision (docs/security.md).
//  2. Where the client supports elicitation, phantom asks the human through
//     the client's own UI and acts only on an explicit accept. The question
//     is an input request in the result (multi round-trip, protocol
//     2026-07-28); for older clients the SDK sends it with
//     ServerSession.Elicit and calls the tool again with the answer.
//  3. Without elicitation, tools that lose data or break running programs
//     (remove, rotate) refuse and return the CLI command for the human;
//     the others act on confirm (docs/decisions.md: they only move values
//     into the vault, and nothing they do needs undoing by a human).
func (s *server) gate(req *mcp.CallToolRequest, g gateSpec) *mcp.CallToolResult {
	if !g.confirm {
		return confirmRefusal(g.tool)
	}
	if !supportsElicitation(req) {
		if g.needsHuman {
			return refusal("%s needs the user's own approval, and this MCP client cannot ask them (it does not support elicitation). Nothing was done. Ask the user to run this in their terminal:\n  cd %s && %s", g.tool, shellQuote(g.dir), g.command)
		}
		return nil
	}
	hash := argsHash(g.tool, g.args)
	if resp := req.Params.InputResponses; len(resp) > 0 {
		for id, r := range resp {
			p, ok := s.take(id)
			if !ok || p.tool != g.tool || p.hash != hash || time.Now().After(p.expires) {
				continue
			}
			er, ok := r.(*mcp.ElicitResult)
			if !ok {
				break
			}
			if er.Action == "accept" && er.Content[approveField] == true {
				return nil
			}
			return refusal("The user did not approve %s (answer: %s). Nothing was done; do not retry unless the user asks again.", g.tool, answer(er))
		}
		return refusal("%s: the answer does not match a question phantom asked (unknown, used or expired). Nothing was done. Call the tool again to ask the user.", g.tool)
	}
	id := newID()
	s.mu.Lock()
	now := time.Now()
	for k, p := range s.pending {
		if now.After(p.expires) {
			delete(s.pending, k)
		}
	}
	s.pending[id] = pendingApproval{tool: g.tool, hash: hash, expires: now.Add(approvalTTL)}
	s.mu.Unlock()
	return &mcp.CallToolResult{
		InputRequests: mcp.InputRequestMap{id: &mcp.ElicitParams{
			Mode:    "form",
			Message: "phantom: " + g.message + " Only you can approve this; your AI agent asked for it.",
			RequestedSchema: map[string]any{
				"type": "object",
				"properties": map[string]any{
					approveField: map[string]any{"type": "boolean", "title": "Yes, do it", "description": "Tick to approve: " + g.command, "default": false},
				},
				"required": []string{approveField},
			},
		}},
		RequestState: id,
	}
}

func answer(er *mcp.ElicitResult) string {
	if er.Action == "accept" {
		return "accepted without ticking the box"
	}
	return er.Action
}

// take removes and returns a pending approval: each is used once.
func (s *server) take(id string) (pendingApproval, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[id]
	delete(s.pending, id)
	return p, ok
}

func supportsElicitation(req *mcp.CallToolRequest) bool {
	caps := req.ClientCapabilities()
	if caps == nil || caps.Elicitation == nil {
		return false
	}
	// An elicitation capability that names only "url" mode cannot show a
	// form; {} means form (the SDK's reading of older clients).
	return caps.Elicitation.Form != nil || caps.Elicitation.URL == nil
}

func argsHash(tool string, args any) string {
	b, _ := json.Marshal(args)
	h := sha256.Sum256(append([]byte(tool+"\x00"), b...))
	return hex.EncodeToString(h[:])
}

func newID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return "phantom-approval-" + hex.EncodeToString(b)
}

package scrub

// Find calls fn for every match in b, in the order and with the boundaries
// Replace would replace them (leftmost-longest, non-overlapping), passing the
// match's span and its pattern's replacement. It copies nothing: phantom
// check (internal/leakscan) uses the same automaton to locate vault values
// and their encodings, with the secret's name as the "replacement".
func (r *Replacer) Find(b []byte, fn func(start, end int, repl []byte)) {
	if r.Len() == 0 {
		return
	}
	c := cursor{s: r.rootEnc}
	report := func() {
		fn(c.mStart, c.mEnd, r.repl[c.mPat])
		c.emit, c.pending = c.mEnd, false
	}
	s, i := c.s, 0
	for {
		for i < len(b) {
			cl := uint32(r.class[b[i]])
			i++
			if s&sparse == 0 {
				s = r.dense[s&offMask+cl]
			} else {
				s = r.sparseNext(s&offMask, cl)
			}
			if s&special == 0 {
				continue
			}
			if s == deadEnc {
				if !c.pending {
					s = r.rootEnc
					i--
					continue
				}
				report()
				s, i = r.rootEnc, c.mEnd
				continue
			}
			id := r.stateID(s)
			p := r.match[id]
			c.pending, c.mPat, c.mStart, c.mEnd = true, p, i-int(r.plen[p]), i
			if r.terminal[id] {
				report()
				s = r.rootEnc
			}
		}
		if !c.pending {
			return
		}
		// End of input: the pending match can no longer grow; report it
		// and rescan what followed it, as finish does.
		report()
		s, i = r.rootEnc, c.mEnd
	}
}

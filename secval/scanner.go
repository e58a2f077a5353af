package secval

import (
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a resumable JSON validator: feed may be called with any split
// of the input and keeps its state between calls. It implements the grammar
// of RFC 8259 exactly as encoding/json's scanner does (see FuzzCheck) and
// checks the limits as it goes. It allocates nothing unless the nesting is
// deeper than len(stkArr) or a deny key is longer than len(keyArr)/4 runes.
type scanner struct {
	lim    resolved
	stream bool  // accept a sequence of top-level values (Reader)
	off    int64 // offset of the byte being looked at, for syntax errors
	state  uint8

	depth   int
	stkArr  [32]frame
	stkHeap []frame

	// Current string.
	inKey  bool
	strLen int

	// Unescaped prefix of the current key, when deny keys are checked.
	trackKeys bool
	keyLen    int
	keyOver   bool // the key is longer than any deny key could match
	hi        rune // pending high surrogate from a \u escape, or 0
	keyArr    [128]byte
	keyHeap   []byte

	// \uXXXX escape.
	uLeft int
	uVal  rune

	// Literal true / false / null.
	lit    string
	litPos int
}

type frame struct {
	obj bool
	n   int // keys or elements started so far
}

const (
	stValue      uint8 = iota // a value is expected
	stValueOrEnd              // after '[': a value or ']'
	stKeyOrEnd                // after '{': a key or '}'
	stKey                     // after ',' in an object: a key
	stColon                   // after a key
	stAfter                   // after a value inside a container: ',' or the closer
	stTopEnd                  // after the top-level value (Check): only whitespace
	stStr                     // inside a string
	stEsc                     // after a backslash
	stU                       // inside \uXXXX
	stNeg                     // after '-'
	stZero                    // after a leading '0'
	stInt                     // integer digits
	stDot                     // after '.'
	stFrac                    // fraction digits
	stE                       // after 'e' or 'E'
	stESign                   // after the exponent's sign
	stExp                     // exponent digits
	stLit                     // inside true, false or null
)

func (s *scanner) init(lim resolved, stream bool) {
	s.lim = lim
	s.stream = stream
	s.trackKeys = len(lim.deny) > 0
	if lim.keyCap > len(s.keyArr) {
		s.keyHeap = make([]byte, lim.keyCap)
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// feed checks p, continuing from the state left by earlier calls. It
// returns len(p), nil, or the index in p of the byte that broke a limit (or
// the grammar: errSyntaxMark) with the violation; s.off is then that byte's
// offset in the whole input.
//
// The states that run for almost every byte (between tokens, inside a
// string, in a number's digits) are cases of the switch below, so that the
// loop runs in one function; the states inside escapes, number punctuation
// and literals each have a step method taking the byte, small enough to be
// inlined or rare enough not to matter. One step function per state, as in
// encoding/json's scanner, was measured 15-40% slower on BenchmarkCheck:
// Go does not inline functions the size of the hot steps, and a call per
// token costs more than the switch.
func (s *scanner) feed(p []byte) (int, error) {
	base := s.off
	i := 0
	for i < len(p) {
		c := p[i]
		switch s.state {
		case stValue, stValueOrEnd, stTopEnd:
			if isSpace(c) {
				i++
				continue
			}
			if s.state == stTopEnd {
				return s.fail(base, i, errSyntaxMark)
			}
			if s.state == stValueOrEnd {
				if c == ']' {
					i++
					s.pop()
					continue
				}
				if err := s.count(false); err != nil {
					return s.fail(base, i, err)
				}
			}
			switch {
			case c == '{':
				if err := s.push(true); err != nil {
					return s.fail(base, i, err)
				}
				s.state = stKeyOrEnd
			case c == '[':
				if err := s.push(false); err != nil {
					return s.fail(base, i, err)
				}
				s.state = stValueOrEnd
			case c == '"':
				s.startString(false)
			case c == '-':
				s.state = stNeg
			case c == '0':
				s.state = stZero
			case '1' <= c && c <= '9':
				s.state = stInt
			case c == 't':
				s.lit, s.litPos, s.state = "true", 1, stLit
			case c == 'f':
				s.lit, s.litPos, s.state = "false", 1, stLit
			case c == 'n':
				s.lit, s.litPos, s.state = "null", 1, stLit
			default:
				return s.fail(base, i, errSyntaxMark)
			}
			i++

		case stKeyOrEnd, stKey:
			if isSpace(c) {
				i++
				continue
			}
			if c == '}' && s.state == stKeyOrEnd {
				i++
				s.pop()
				continue
			}
			if c != '"' {
				return s.fail(base, i, errSyntaxMark)
			}
			if err := s.count(true); err != nil {
				return s.fail(base, i, err)
			}
			s.startString(true)
			i++

		case stColon:
			if isSpace(c) {
				i++
				continue
			}
			if c != ':' {
				return s.fail(base, i, errSyntaxMark)
			}
			s.state = stValue
			i++

		case stAfter:
			if isSpace(c) {
				i++
				continue
			}
			top := s.top()
			switch {
			case c == ',' && top.obj:
				s.state = stKey
			case c == ',':
				if err := s.count(false); err != nil {
					return s.fail(base, i, err)
				}
				s.state = stValue
			case c == '}' && top.obj, c == ']' && !top.obj:
				s.pop()
			default:
				return s.fail(base, i, errSyntaxMark)
			}
			i++

		case stStr:
			j := i
			for j < len(p) && p[j] >= 0x20 && p[j] != '"' && p[j] != '\\' {
				j++
			}
			if j > i {
				if s.lim.maxStr-s.strLen < j-i {
					return s.fail(base, i+s.lim.maxStr-s.strLen, s.stringTooLong())
				}
				s.strLen += j - i
				if s.inKey && s.trackKeys {
					s.keyBytes(p[i:j])
				}
				i = j
				if i == len(p) {
					break
				}
				c = p[i]
			}
			switch {
			case c == '"':
				i++
				if !s.inKey {
					s.afterValue()
					continue
				}
				if s.trackKeys {
					if d, ok := s.denied(); ok {
						// Point at the closing quote: the key never completes.
						return s.fail(base, i-1, &violation{"deny_keys", fmt.Sprintf("JSON key %q is not allowed", d)})
					}
				}
				s.state = stColon
			case c == '\\':
				if err := s.strByte(); err != nil {
					return s.fail(base, i, err)
				}
				s.state = stEsc
				i++
			default: // control character
				return s.fail(base, i, errSyntaxMark)
			}

		case stEsc:
			if err := s.stepEsc(c); err != nil {
				return s.fail(base, i, err)
			}
			i++

		case stU:
			if err := s.stepU(c); err != nil {
				return s.fail(base, i, err)
			}
			i++

		case stNeg:
			if err := s.stepNeg(c); err != nil {
				return s.fail(base, i, err)
			}
			i++

		case stZero, stInt:
			if s.state == stInt {
				for i < len(p) && '0' <= p[i] && p[i] <= '9' {
					i++
				}
				if i == len(p) {
					break
				}
				c = p[i]
			}
			switch c {
			case '.':
				s.state = stDot
				i++
			case 'e', 'E':
				s.state = stE
				i++
			default:
				s.afterValue() // c belongs to what follows the number
			}

		case stDot, stE, stESign:
			var err error
			switch s.state {
			case stDot:
				err = s.stepDot(c)
			case stE:
				err = s.stepE(c)
			default:
				err = s.stepESign(c)
			}
			if err != nil {
				return s.fail(base, i, err)
			}
			i++

		case stFrac, stExp:
			for i < len(p) && '0' <= p[i] && p[i] <= '9' {
				i++
			}
			if i == len(p) {
				break
			}
			if c = p[i]; s.state == stFrac && (c == 'e' || c == 'E') {
				s.state = stE
				i++
				continue
			}
			s.afterValue()

		case stLit:
			if err := s.stepLit(c); err != nil {
				return s.fail(base, i, err)
			}
			i++
		}
	}
	s.off = base + int64(len(p))
	return len(p), nil
}

// stepEsc consumes the byte after a backslash (stEsc).
func (s *scanner) stepEsc(c byte) error {
	var r rune
	switch c {
	case '"', '\\', '/':
		r = rune(c)
	case 'b':
		r = '\b'
	case 'f':
		r = '\f'
	case 'n':
		r = '\n'
	case 'r':
		r = '\r'
	case 't':
		r = '\t'
	case 'u':
		s.uLeft, s.uVal = 4, 0
	default:
		return errSyntaxMark
	}
	if err := s.strByte(); err != nil {
		return err
	}
	if c == 'u' {
		s.state = stU
		return nil
	}
	if s.inKey && s.trackKeys {
		s.keyRune(r)
	}
	s.state = stStr
	return nil
}

// stepU consumes one of the four hex digits of \uXXXX (stU).
func (s *scanner) stepU(c byte) error {
	var h rune
	switch {
	case '0' <= c && c <= '9':
		h = rune(c - '0')
	case 'a' <= c && c <= 'f':
		h = rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		h = rune(c - 'A' + 10)
	default:
		return errSyntaxMark
	}
	if err := s.strByte(); err != nil {
		return err
	}
	s.uVal = s.uVal<<4 | h
	if s.uLeft--; s.uLeft == 0 {
		if s.inKey && s.trackKeys {
			s.keyEscape(s.uVal)
		}
		s.state = stStr
	}
	return nil
}

// stepNeg consumes the first digit after '-' (stNeg).
func (s *scanner) stepNeg(c byte) error {
	switch {
	case c == '0':
		s.state = stZero
	case '1' <= c && c <= '9':
		s.state = stInt
	default:
		return errSyntaxMark
	}
	return nil
}

// stepDot consumes the first fraction digit (stDot).
func (s *scanner) stepDot(c byte) error {
	if c < '0' || c > '9' {
		return errSyntaxMark
	}
	s.state = stFrac
	return nil
}

// stepE consumes the exponent's sign or first digit (stE).
func (s *scanner) stepE(c byte) error {
	if c == '+' || c == '-' {
		s.state = stESign
		return nil
	}
	return s.stepESign(c)
}

// stepESign consumes the exponent's first digit (stESign).
func (s *scanner) stepESign(c byte) error {
	if c < '0' || c > '9' {
		return errSyntaxMark
	}
	s.state = stExp
	return nil
}

// stepLit consumes the next byte of true, false or null (stLit).
func (s *scanner) stepLit(c byte) error {
	if c != s.lit[s.litPos] {
		return errSyntaxMark
	}
	if s.litPos++; s.litPos == len(s.lit) {
		s.afterValue()
	}
	return nil
}

// end reports whether the input fed so far is one complete value; it is
// used by Check only.
func (s *scanner) end() error {
	switch s.state {
	case stZero, stInt, stFrac, stExp:
		if s.depth == 0 {
			return nil // a top-level number ends at EOF
		}
	case stTopEnd:
		return nil
	}
	return errSyntaxMark
}

func (s *scanner) fail(base int64, i int, err error) (int, error) {
	s.off = base + int64(i)
	return i, err
}

func (s *scanner) afterValue() {
	switch {
	case s.depth > 0:
		s.state = stAfter
	case s.stream:
		s.state = stValue
	default:
		s.state = stTopEnd
	}
}

func (s *scanner) push(obj bool) error {
	if s.depth >= s.lim.maxDepth {
		return &violation{"max_depth", fmt.Sprintf("JSON nesting exceeds %d levels", s.lim.maxDepth)}
	}
	s.depth++
	if k := s.depth - 1 - len(s.stkArr); k >= 0 && k == len(s.stkHeap) {
		s.stkHeap = append(s.stkHeap, frame{})
	}
	*s.top() = frame{obj: obj}
	return nil
}

func (s *scanner) pop() {
	s.depth--
	s.afterValue()
}

func (s *scanner) top() *frame {
	if s.depth <= len(s.stkArr) {
		return &s.stkArr[s.depth-1]
	}
	return &s.stkHeap[s.depth-1-len(s.stkArr)]
}

// count records the start of a key (obj) or an array element in the
// innermost container.
func (s *scanner) count(obj bool) error {
	f := s.top()
	f.n++
	switch {
	case obj && f.n > s.lim.maxKeys:
		return &violation{"max_keys", fmt.Sprintf("JSON object has more than %d keys", s.lim.maxKeys)}
	case !obj && f.n > s.lim.maxElems:
		return &violation{"max_elements", fmt.Sprintf("JSON array has more than %d elements", s.lim.maxElems)}
	}
	return nil
}

func (s *scanner) startString(key bool) {
	s.state = stStr
	s.inKey = key
	s.strLen = 0
	s.keyLen, s.keyOver, s.hi = 0, false, 0
}

// strByte counts one byte of an escape sequence towards MaxStringLen.
func (s *scanner) strByte() error {
	if s.strLen >= s.lim.maxStr {
		return s.stringTooLong()
	}
	s.strLen++
	return nil
}

func (s *scanner) stringTooLong() error {
	return &violation{"max_string_len", fmt.Sprintf("JSON string exceeds %d bytes", s.lim.maxStr)}
}

// The key* methods build the key as encoding/json unescapes it: escapes
// decoded, a \u surrogate pair joined, and a lone surrogate replaced by
// U+FFFD. Raw invalid UTF-8 is kept as is: equalFold decodes each bad byte
// as U+FFFD, which is what encoding/json replaces it with.

func (s *scanner) keyBytes(b []byte) {
	s.flushSurrogate()
	if s.keyOver {
		return
	}
	if s.keyLen+len(b) > s.lim.keyCap {
		s.keyOver = true
		return
	}
	if s.keyHeap != nil {
		copy(s.keyHeap[s.keyLen:], b)
	} else {
		copy(s.keyArr[s.keyLen:], b)
	}
	s.keyLen += len(b)
}

func (s *scanner) keyRune(r rune) {
	var buf [utf8.UTFMax]byte
	s.keyBytes(utf8.AppendRune(buf[:0], r))
}

func (s *scanner) keyEscape(v rune) {
	if s.hi != 0 {
		hi := s.hi
		s.hi = 0
		if r := utf16.DecodeRune(hi, v); r != utf8.RuneError {
			s.keyRune(r)
			return
		}
		s.keyRune(utf8.RuneError)
	}
	switch {
	case 0xD800 <= v && v < 0xDC00:
		s.hi = v
	case 0xDC00 <= v && v < 0xE000:
		s.keyRune(utf8.RuneError)
	default:
		s.keyRune(v)
	}
}

func (s *scanner) flushSurrogate() {
	if s.hi != 0 {
		s.hi = 0
		s.keyRune(utf8.RuneError)
	}
}

// denied completes the current key and returns the deny-list entry it
// matches, if any.
func (s *scanner) denied() (string, bool) {
	s.flushSurrogate()
	if s.keyOver {
		return "", false
	}
	if s.keyLen > 0 && !s.lim.firstByte(s.keyFirst()) {
		return "", false
	}
	key := s.keyArr[:s.keyLen]
	if s.keyHeap != nil {
		key = s.keyHeap[:s.keyLen]
	}
	for _, d := range s.lim.deny {
		if equalFold(key, d) {
			return d, true
		}
	}
	return "", false
}

func (s *scanner) keyFirst() byte {
	if s.keyHeap != nil {
		return s.keyHeap[0]
	}
	return s.keyArr[0]
}

// equalFold is strings.EqualFold for a []byte and a string, without
// converting either.
func equalFold(b []byte, t string) bool {
	for len(b) > 0 && len(t) > 0 {
		var br, tr rune
		if b[0] < utf8.RuneSelf {
			br, b = rune(b[0]), b[1:]
		} else {
			r, n := utf8.DecodeRune(b)
			br, b = r, b[n:]
		}
		if t[0] < utf8.RuneSelf {
			tr, t = rune(t[0]), t[1:]
		} else {
			r, n := utf8.DecodeRuneInString(t)
			tr, t = r, t[n:]
		}
		if br == tr {
			continue
		}
		if tr < br {
			tr, br = br, tr
		}
		if tr < utf8.RuneSelf {
			if 'A' <= br && br <= 'Z' && tr == br+'a'-'A' {
				continue
			}
			return false
		}
		r := unicode.SimpleFold(br)
		for r != br && r < tr {
			r = unicode.SimpleFold(r)
		}
		if r != tr {
			return false
		}
	}
	return len(b) == len(t)
}

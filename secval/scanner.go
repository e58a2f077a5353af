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
// Like encoding/json's scanner, there is one step function per state. Each
// starts at p[i] (i < len(p)), consumes as many bytes as its state allows
// (a run of string bytes, digits or spaces at once, so that the dispatch
// below runs once per token rather than once per byte), sets the next state
// and returns the index of the first byte it did not consume; on error, the
// index of the offending byte. The dispatch is a switch on a small integer
// rather than a func field, so that end can name the state and every call
// is direct.
func (s *scanner) feed(p []byte) (int, error) {
	base := s.off
	i := 0
	var err error
	for err == nil && i < len(p) {
		switch s.state {
		case stValue:
			i, err = s.stepValue(p, i)
		case stValueOrEnd:
			i, err = s.stepValueOrEnd(p, i)
		case stKeyOrEnd:
			i, err = s.stepKey(p, i, true)
		case stKey:
			i, err = s.stepKey(p, i, false)
		case stColon:
			i, err = s.stepColon(p, i)
		case stAfter:
			i, err = s.stepAfter(p, i)
		case stTopEnd:
			i, err = s.stepTopEnd(p, i)
		case stStr:
			i, err = s.stepStr(p, i)
		case stEsc:
			i, err = s.stepEsc(p, i)
		case stU:
			i, err = s.stepU(p, i)
		case stNeg:
			i, err = s.stepNeg(p, i)
		case stZero:
			i = s.stepZero(p, i)
		case stInt:
			i = s.stepInt(p, i)
		case stDot:
			i, err = s.stepDot(p, i)
		case stE:
			i, err = s.stepE(p, i)
		case stESign:
			i, err = s.stepESign(p, i)
		case stFrac:
			i = s.stepFrac(p, i)
		case stExp:
			i = s.stepExp(p, i)
		case stLit:
			i, err = s.stepLit(p, i)
		}
	}
	if err != nil {
		return s.fail(base, i, err)
	}
	s.off = base + int64(len(p))
	return len(p), nil
}

// skipSpace returns the index of the first byte at or after p[i] that is
// not JSON whitespace, or len(p).
func skipSpace(p []byte, i int) int {
	for i < len(p) && isSpace(p[i]) {
		i++
	}
	return i
}

// stepValue: a value is expected (after ':', after ',' in an array, at the
// top level).
func (s *scanner) stepValue(p []byte, i int) (int, error) {
	if i = skipSpace(p, i); i == len(p) {
		return i, nil
	}
	switch c := p[i]; {
	case c == '"':
		s.startString(false)
	case '1' <= c && c <= '9':
		s.state = stInt
	case c == '{':
		if err := s.push(true); err != nil {
			return i, err
		}
		s.state = stKeyOrEnd
	case c == '[':
		if err := s.push(false); err != nil {
			return i, err
		}
		s.state = stValueOrEnd
	case c == '-':
		s.state = stNeg
	case c == '0':
		s.state = stZero
	case c == 't':
		s.lit, s.litPos, s.state = "true", 1, stLit
	case c == 'f':
		s.lit, s.litPos, s.state = "false", 1, stLit
	case c == 'n':
		s.lit, s.litPos, s.state = "null", 1, stLit
	default:
		return i, errSyntaxMark
	}
	return i + 1, nil
}

// stepValueOrEnd: after '[', the first element or ']'.
func (s *scanner) stepValueOrEnd(p []byte, i int) (int, error) {
	if i = skipSpace(p, i); i == len(p) {
		return i, nil
	}
	if p[i] == ']' {
		s.pop()
		return i + 1, nil
	}
	if err := s.count(false); err != nil {
		return i, err
	}
	return s.stepValue(p, i)
}

// stepKey: a key is expected, after '{' (orEnd: or '}') or after ','.
func (s *scanner) stepKey(p []byte, i int, orEnd bool) (int, error) {
	if i = skipSpace(p, i); i == len(p) {
		return i, nil
	}
	switch c := p[i]; {
	case c == '}' && orEnd:
		s.pop()
		return i + 1, nil
	case c != '"':
		return i, errSyntaxMark
	}
	if err := s.count(true); err != nil {
		return i, err
	}
	s.startString(true)
	return i + 1, nil
}

// stepColon: after a key.
func (s *scanner) stepColon(p []byte, i int) (int, error) {
	if i = skipSpace(p, i); i == len(p) {
		return i, nil
	}
	if p[i] != ':' {
		return i, errSyntaxMark
	}
	s.state = stValue
	return i + 1, nil
}

// stepAfter: after a value inside a container, ',' or the closer.
func (s *scanner) stepAfter(p []byte, i int) (int, error) {
	if i = skipSpace(p, i); i == len(p) {
		return i, nil
	}
	top := s.top()
	switch c := p[i]; {
	case c == ',' && top.obj:
		s.state = stKey
	case c == ',':
		if err := s.count(false); err != nil {
			return i, err
		}
		s.state = stValue
	case c == '}' && top.obj, c == ']' && !top.obj:
		s.pop()
	default:
		return i, errSyntaxMark
	}
	return i + 1, nil
}

// stepTopEnd: after the top-level value of Check, only whitespace.
func (s *scanner) stepTopEnd(p []byte, i int) (int, error) {
	if i = skipSpace(p, i); i == len(p) {
		return i, nil
	}
	return i, errSyntaxMark
}

// stepStr: inside a string. A run of plain bytes is taken at once.
func (s *scanner) stepStr(p []byte, i int) (int, error) {
	j := i
	for j < len(p) && p[j] >= 0x20 && p[j] != '"' && p[j] != '\\' {
		j++
	}
	if j > i {
		if s.lim.maxStr-s.strLen < j-i {
			return i + s.lim.maxStr - s.strLen, s.stringTooLong()
		}
		s.strLen += j - i
		if s.inKey && s.trackKeys {
			s.keyBytes(p[i:j])
		}
		if i = j; i == len(p) {
			return i, nil
		}
	}
	switch p[i] {
	case '"':
		if !s.inKey {
			s.afterValue()
			return i + 1, nil
		}
		if s.trackKeys {
			if d, ok := s.denied(); ok {
				// Point at the closing quote: the key never completes.
				return i, &violation{"deny_keys", fmt.Sprintf("JSON key %q is not allowed", d)}
			}
		}
		s.state = stColon
		return i + 1, nil
	case '\\':
		if err := s.strByte(); err != nil {
			return i, err
		}
		s.state = stEsc
		return i + 1, nil
	}
	return i, errSyntaxMark // a control character
}

// stepEsc: after a backslash in a string.
func (s *scanner) stepEsc(p []byte, i int) (int, error) {
	c := p[i]
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
		return i, errSyntaxMark
	}
	if err := s.strByte(); err != nil {
		return i, err
	}
	if c == 'u' {
		s.state = stU
		return i + 1, nil
	}
	if s.inKey && s.trackKeys {
		s.keyRune(r)
	}
	s.state = stStr
	return i + 1, nil
}

// stepU: inside the four hex digits of \uXXXX.
func (s *scanner) stepU(p []byte, i int) (int, error) {
	var h rune
	switch c := p[i]; {
	case '0' <= c && c <= '9':
		h = rune(c - '0')
	case 'a' <= c && c <= 'f':
		h = rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		h = rune(c - 'A' + 10)
	default:
		return i, errSyntaxMark
	}
	if err := s.strByte(); err != nil {
		return i, err
	}
	s.uVal = s.uVal<<4 | h
	if s.uLeft--; s.uLeft == 0 {
		if s.inKey && s.trackKeys {
			s.keyEscape(s.uVal)
		}
		s.state = stStr
	}
	return i + 1, nil
}

// stepNeg: after '-', the first digit.
func (s *scanner) stepNeg(p []byte, i int) (int, error) {
	switch c := p[i]; {
	case c == '0':
		s.state = stZero
	case '1' <= c && c <= '9':
		s.state = stInt
	default:
		return i, errSyntaxMark
	}
	return i + 1, nil
}

// stepInt: integer digits after the first, then what stepZero accepts.
func (s *scanner) stepInt(p []byte, i int) int {
	if i = skipDigits(p, i); i == len(p) {
		return i
	}
	return s.stepZero(p, i)
}

// stepZero: after the integer part, '.', an exponent or the end of the
// number; the byte that ends the number belongs to what follows it.
func (s *scanner) stepZero(p []byte, i int) int {
	switch p[i] {
	case '.':
		s.state = stDot
		return i + 1
	case 'e', 'E':
		s.state = stE
		return i + 1
	}
	s.afterValue()
	return i
}

// stepDot: after '.', the first fraction digit.
func (s *scanner) stepDot(p []byte, i int) (int, error) {
	if c := p[i]; c < '0' || c > '9' {
		return i, errSyntaxMark
	}
	s.state = stFrac
	return i + 1, nil
}

// stepE: after 'e' or 'E', a sign or the first exponent digit.
func (s *scanner) stepE(p []byte, i int) (int, error) {
	if c := p[i]; c == '+' || c == '-' {
		s.state = stESign
		return i + 1, nil
	}
	return s.stepESign(p, i)
}

// stepESign: the first exponent digit.
func (s *scanner) stepESign(p []byte, i int) (int, error) {
	if c := p[i]; c < '0' || c > '9' {
		return i, errSyntaxMark
	}
	s.state = stExp
	return i + 1, nil
}

// stepFrac: fraction digits, then an exponent or the end of the number.
func (s *scanner) stepFrac(p []byte, i int) int {
	if i = skipDigits(p, i); i == len(p) {
		return i
	}
	if c := p[i]; c == 'e' || c == 'E' {
		s.state = stE
		return i + 1
	}
	s.afterValue()
	return i
}

// stepExp: exponent digits, then the end of the number.
func (s *scanner) stepExp(p []byte, i int) int {
	if i = skipDigits(p, i); i == len(p) {
		return i
	}
	s.afterValue()
	return i
}

func skipDigits(p []byte, i int) int {
	for i < len(p) && '0' <= p[i] && p[i] <= '9' {
		i++
	}
	return i
}

// stepLit: inside true, false or null.
func (s *scanner) stepLit(p []byte, i int) (int, error) {
	if p[i] != s.lit[s.litPos] {
		return i, errSyntaxMark
	}
	if s.litPos++; s.litPos == len(s.lit) {
		s.afterValue()
	}
	return i + 1, nil
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

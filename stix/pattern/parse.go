package pattern

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Limits that keep parsing bounded on hostile input. Parsing takes time
// linear in the length of the pattern (see BenchmarkParseSize); MaxDepth
// bounds the recursion of the parser, and with it the goroutine stack.
const (
	MaxLength    = 1 << 20 // bytes; a list of 2,500 addresses joined by OR is about 84 KB
	MaxDepth     = 100     // nested '(' and '[' levels
	MaxConstants = 100_000 // constants, set members included; bounds the tree's memory
)

// maxInt is the largest STIX integer magnitude, 2^53-1 (STIX 2.1 section 2.10).
const maxInt = 1<<53 - 1

// SyntaxError reports why a pattern is invalid and where: Offset is a byte
// offset into the pattern.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("at %d: %s", e.Offset, e.Msg) }

func errAt(off int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// Parse parses a STIX pattern. The error, when not nil, is a *SyntaxError
// with the byte offset and a message a partner can act on, e.g.
// `at 17: expected ']' to close the observation expression, found "AND"`.
//
// The grammar, from STIX 2.1 section 9 (precedence from section 9.5.3,
// qualifiers binding tighter than observation operators per section 9.5.2):
//
//	pattern     = obs-expr
//	obs-expr    = obs-or *("FOLLOWEDBY" obs-or)
//	obs-or      = obs-and *("OR" obs-and)
//	obs-and     = qualified *("AND" qualified)
//	qualified   = ("[" cmp-expr "]" / "(" obs-expr ")") *qualifier
//	qualifier   = "WITHIN" number "SECONDS" / "REPEATS" integer "TIMES" /
//	              "START" timestamp "STOP" timestamp
//	cmp-expr    = cmp-and *("OR" cmp-and)
//	cmp-and     = cmp-primary *("AND" cmp-primary)
//	cmp-primary = "(" cmp-expr ")" / path ["NOT"] operator operand /
//	              ["NOT"] "EXISTS" path
//
// Keywords are case-sensitive and uppercase; true and false are lowercase.
func Parse(s string) (pat *Pattern, err error) {
	if len(s) > MaxLength {
		return nil, errAt(MaxLength, "pattern is %d bytes long; the limit is %d", len(s), MaxLength)
	}
	if err := checkUTF8(s); err != nil {
		return nil, err
	}
	// The lexer runs as the parser asks for tokens; its errors unwind the
	// parser as a lexFailure panic, recovered here.
	defer func() {
		if r := recover(); r != nil {
			lf, ok := r.(lexFailure)
			if !ok {
				panic(r)
			}
			pat, err = nil, lf.err
		}
	}()
	p := &parser{src: s, lx: lexer{s: s}}
	if p.peek().kind == tEOF {
		return nil, errAt(0, "empty pattern: expected an observation expression such as [file:name = 'foo.dll'] (STIX 2.1 section 9.5)")
	}
	e, err := p.observationExpr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		if t.text == ")" {
			return nil, errAt(t.pos, "unmatched ')'")
		}
		return nil, p.unexpected(t, "expected AND, OR, FOLLOWEDBY, a qualifier (WITHIN, REPEATS, START) or the end of the pattern")
	}
	return &Pattern{Expr: e}, nil
}

type parser struct {
	src     string
	lx      lexer
	la      [2]token // tokens read ahead
	nla     int      // how many of la are filled
	prevEnd int      // end offset of the token last consumed
	depth   int

	constants   int             // constants parsed so far
	regexps     map[string]bool // MATCHES expressions found valid
	regexpBytes int             // their total length
}

// lexFailure carries a lexer error up through the parser.
type lexFailure struct{ err error }

// fill reads ahead until k tokens are buffered.
func (p *parser) fill(k int) {
	for p.nla < k {
		t, err := p.lx.next()
		if err != nil {
			panic(lexFailure{err})
		}
		p.la[p.nla] = t
		p.nla++
	}
}

func (p *parser) peek() token {
	p.fill(1)
	return p.la[0]
}

// peek2 returns the token after the next one.
func (p *parser) peek2() token {
	p.fill(2)
	return p.la[1]
}

func (p *parser) next() token {
	t := p.peek()
	if t.kind != tEOF {
		p.la[0], p.la[1] = p.la[1], token{}
		p.nla--
		p.prevEnd = t.end
	}
	return t
}

func (p *parser) isKeyword(kw string) bool {
	t := p.peek()
	return t.kind == tIdent && t.text == kw
}

func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tPunct && t.text == s
}

func (p *parser) unexpected(t token, format string, args ...any) error {
	return errAt(t.pos, "%s, found %s", fmt.Sprintf(format, args...), t.describe())
}

// enter counts one level of '(' or '[' nesting opened by t.
func (p *parser) enter(t token) error {
	if p.depth++; p.depth > MaxDepth {
		return errAt(t.pos, "nesting deeper than %d levels of parentheses and brackets", MaxDepth)
	}
	return nil
}

// Observation operators by level, lowest precedence first (section 9.5.3).
var obsLevels = []ObservationOperator{ObsFollowedBy, ObsOr, ObsAnd}

func (p *parser) observationExpr(level int) (ObservationExpression, error) {
	if level == len(obsLevels) {
		return p.qualified()
	}
	first, err := p.observationExpr(level + 1)
	if err != nil || !p.isKeyword(string(obsLevels[level])) {
		return first, err
	}
	c := &CompoundObservation{Offset: first.Pos(), Op: obsLevels[level], Operands: []ObservationExpression{first}}
	for p.isKeyword(string(c.Op)) {
		p.next()
		e, err := p.observationExpr(level + 1)
		if err != nil {
			return nil, err
		}
		c.Operands = append(c.Operands, e)
	}
	return c, nil
}

// qualified parses a bracketed or parenthesised observation expression and
// its qualifiers; an expression MUST NOT have more than one qualifier of a
// kind (section 9.5.1).
func (p *parser) qualified() (ObservationExpression, error) {
	start := p.peek().pos
	e, err := p.observationPrimary()
	if err != nil {
		return nil, err
	}
	var qs []Qualifier
	for p.isKeyword("WITHIN") || p.isKeyword("REPEATS") || p.isKeyword("START") {
		q, err := p.qualifier()
		if err != nil {
			return nil, err
		}
		for _, prev := range qs {
			if prev.Kind == q.Kind {
				return nil, errAt(q.Offset, "second %s qualifier on the same observation expression: each kind may appear once (STIX 2.1 section 9.5.1); use parentheses to qualify a qualified expression again", q.Kind)
			}
		}
		qs = append(qs, q)
	}
	if qs == nil {
		return e, nil
	}
	return &QualifiedObservation{Offset: start, Expr: e, Qualifiers: qs}, nil
}

func (p *parser) observationPrimary() (ObservationExpression, error) {
	t := p.peek()
	switch {
	case t.kind == tPunct && t.text == "[":
		if err := p.enter(t); err != nil {
			return nil, err
		}
		p.next()
		if p.isPunct("]") {
			return nil, errAt(t.pos, "empty observation expression: expected a comparison expression between '[' and ']'")
		}
		c, err := p.comparisonExpr(0)
		if err != nil {
			return nil, err
		}
		if !p.isPunct("]") {
			return nil, p.unexpected(p.peek(), "expected ']' to close the observation expression opened at %d", t.pos)
		}
		if _, err := sameObject(c); err != nil {
			return nil, err
		}
		p.next()
		p.depth--
		return &Observation{Offset: t.pos, Comparison: c}, nil
	case t.kind == tPunct && t.text == "(":
		if err := p.enter(t); err != nil {
			return nil, err
		}
		p.next()
		e, err := p.observationExpr(0)
		if err != nil {
			return nil, err
		}
		if !p.isPunct(")") {
			return nil, p.unexpected(p.peek(), "expected ')' to close the parenthesis opened at %d", t.pos)
		}
		p.next()
		p.depth--
		return e, nil
	case t.kind == tIdent && p.peek2().text == ":":
		return nil, errAt(t.pos, "comparison expressions must be enclosed in square brackets, as in [file:name = 'foo.dll'] (STIX 2.1 section 9.5)")
	}
	return nil, p.unexpected(t, "expected '[' or '(' to start an observation expression")
}

// qualifier parses WITHIN, REPEATS or START/STOP (section 9.5.1).
func (p *parser) qualifier() (Qualifier, error) {
	t := p.next()
	q := Qualifier{Offset: t.pos, Kind: QualifierKind(t.text)}
	var err error
	switch q.Kind {
	case Within:
		if q.Value, err = p.scalar("a number of seconds after WITHIN"); err != nil {
			return q, err
		}
		v := q.Value
		if v.Kind != KindInteger && v.Kind != KindFloat || v.Kind == KindInteger && v.Int <= 0 || v.Kind == KindFloat && v.Float <= 0 {
			return q, errAt(v.Offset, "WITHIN takes a positive integer or float number of seconds, found %s (STIX 2.1 section 9.5.1)", short(v.Raw))
		}
		if !p.isKeyword("SECONDS") {
			return q, p.unexpected(p.peek(), "expected SECONDS after WITHIN %s", v.Raw)
		}
	case Repeats:
		if q.Value, err = p.scalar("a number after REPEATS"); err != nil {
			return q, err
		}
		if v := q.Value; v.Kind != KindInteger || v.Int <= 0 {
			return q, errAt(v.Offset, "REPEATS takes a positive integer, found %s (STIX 2.1 section 9.5.1)", short(v.Raw))
		}
		if !p.isKeyword("TIMES") {
			return q, p.unexpected(p.peek(), "expected TIMES after REPEATS %s", q.Value.Raw)
		}
	default: // START
		if q.Start, err = p.timestamp("START"); err != nil {
			return q, err
		}
		if !p.isKeyword("STOP") {
			return q, p.unexpected(p.peek(), "expected STOP after START %s", q.Start.Raw)
		}
		p.next()
		if q.Stop, err = p.timestamp("STOP"); err != nil {
			return q, err
		}
		// Section 9.5.1 asks only that matching observations fall in
		// [x, y); a STOP equal to START is allowed (the window is empty),
		// a STOP before START is taken as the mistake it is.
		if q.Stop.Time.Before(q.Start.Time) {
			return q, errAt(q.Stop.Offset, "STOP %s is earlier than START %s (STIX 2.1 section 9.5.1)", q.Stop.Raw, q.Start.Raw)
		}
		return q, nil
	}
	p.next() // SECONDS or TIMES
	return q, nil
}

func (p *parser) timestamp(kw string) (Constant, error) {
	c, err := p.scalar("a timestamp t'...' after " + kw)
	if err == nil && c.Kind != KindTimestamp {
		err = errAt(c.Offset, "%s takes a timestamp constant such as t'2016-06-01T00:00:00Z', found %s (STIX 2.1 section 9.5.1)", kw, short(c.Raw))
	}
	return c, err
}

// sameObject checks that the operands of every AND inside an observation
// expression can be satisfied by one object: comparisons on different object
// types MUST be joined by OR (STIX 2.1 section 9.5). It returns the object
// types c can match.
func sameObject(c ComparisonExpression) (typeSet, error) {
	switch c := c.(type) {
	case *Comparison:
		return typeSet{one: c.Path.ObjectType}, nil
	case *CompoundComparison:
		var acc typeSet
		for i, op := range c.Operands {
			types, err := sameObject(op)
			switch {
			case err != nil:
				return typeSet{}, err
			case i == 0:
				acc = types
			case c.Op == BoolOr:
				acc = acc.union(types)
			default:
				both := acc.intersect(types)
				if both.empty() {
					return typeSet{}, errAt(op.Pos(), "AND joins comparisons on different object types (%s; %s): all operands of AND must be satisfiable by the same object; use OR, or separate observation expressions [...] AND [...] (STIX 2.1 section 9.5)", acc, types)
				}
				acc = both
			}
		}
		return acc, nil
	}
	return typeSet{}, nil
}

// typeSet is a set of object types. Nearly every comparison expression
// names one type, which needs no map.
type typeSet struct {
	one  string          // the only member, when many is nil
	many map[string]bool // the members, when more than one
}

func (s typeSet) empty() bool { return s.many == nil && s.one == "" }

func (s typeSet) has(t string) bool {
	if s.many != nil {
		return s.many[t]
	}
	return s.one == t
}

func (s typeSet) each(f func(string)) {
	if s.many == nil {
		if s.one != "" {
			f(s.one)
		}
		return
	}
	for t := range s.many {
		f(t)
	}
}

// union adds the members of o to s, which it may modify.
func (s typeSet) union(o typeSet) typeSet {
	switch {
	case s.empty():
		return o
	case o.empty() || s.many == nil && o.many == nil && s.one == o.one:
		return s
	}
	if s.many == nil {
		s.many = map[string]bool{s.one: true}
	}
	o.each(func(t string) { s.many[t] = true })
	return s
}

func (s typeSet) intersect(o typeSet) typeSet {
	if len(s.many) > len(o.many) {
		s, o = o, s // iterate over the smaller
	}
	var out typeSet
	s.each(func(t string) {
		if o.has(t) {
			out = out.union(typeSet{one: t})
		}
	})
	return out
}

// String lists the types, sorted, for error messages.
func (s typeSet) String() string {
	var l []string
	s.each(func(t string) { l = append(l, t) })
	sort.Strings(l)
	if len(l) > 3 {
		l = append(l[:3], "...")
	}
	return strings.Join(l, ", ")
}

// Boolean operators by level, lowest precedence first (section 9.5.3).
var cmpLevels = []BooleanOperator{BoolOr, BoolAnd}

func (p *parser) comparisonExpr(level int) (ComparisonExpression, error) {
	if level == len(cmpLevels) {
		return p.comparisonPrimary()
	}
	first, err := p.comparisonExpr(level + 1)
	if err != nil || !p.isKeyword(string(cmpLevels[level])) {
		return first, err
	}
	c := &CompoundComparison{Offset: first.Pos(), Op: cmpLevels[level], Operands: []ComparisonExpression{first}}
	for p.isKeyword(string(c.Op)) {
		p.next()
		e, err := p.comparisonExpr(level + 1)
		if err != nil {
			return nil, err
		}
		c.Operands = append(c.Operands, e)
	}
	return c, nil
}

func (p *parser) comparisonPrimary() (ComparisonExpression, error) {
	t := p.peek()
	if t.kind == tPunct && t.text == "(" {
		if err := p.enter(t); err != nil {
			return nil, err
		}
		p.next()
		c, err := p.comparisonExpr(0)
		if err != nil {
			return nil, err
		}
		if !p.isPunct(")") {
			return nil, p.unexpected(p.peek(), "expected ')' to close the parenthesis opened at %d", t.pos)
		}
		p.next()
		p.depth--
		return c, nil
	}
	// EXISTS is a prefix operator; NOT may precede it like any comparison
	// operator (section 9.6.1).
	negated := p.isKeyword("NOT") && p.peek2().kind == tIdent && p.peek2().text == "EXISTS"
	if negated {
		p.next()
	}
	if p.isKeyword("EXISTS") {
		p.next()
		path, err := p.objectPath()
		if err != nil {
			return nil, err
		}
		return &Comparison{Offset: t.pos, Path: path, Negated: negated, Operator: OpExists}, nil
	}
	if p.isKeyword("NOT") {
		return nil, errAt(t.pos, "NOT goes between the object path and the comparison operator, as in file:name NOT = 'a' (STIX 2.1 section 9.6.1)")
	}
	path, err := p.objectPath()
	if err != nil {
		return nil, err
	}
	if p.isKeyword("NOT") {
		negated = true
		p.next()
	}
	opTok := p.next()
	op := ComparisonOperator(opTok.text)
	switch {
	case opTok.kind == tPunct && (op == OpEqual || op == OpNotEqual || op == OpLess || op == OpLessEqual || op == OpGreater || op == OpGreaterEqual):
	case opTok.kind == tIdent && (op == OpIn || op == OpLike || op == OpMatches || op == OpIsSubset || op == OpIsSuperset):
	default:
		return nil, p.unexpected(opTok, "expected a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET) after %s", path)
	}
	v, err := p.operand(op, path)
	if err != nil {
		return nil, err
	}
	return &Comparison{Offset: path.Offset, Path: path, Negated: negated, Operator: op, Value: v}, nil
}

// operand parses the constant of a comparison and checks it suits the
// operator and the object path (section 9.6.1).
func (p *parser) operand(op ComparisonOperator, path ObjectPath) (Constant, error) {
	open := p.peek()
	isOpen := open.kind == tPunct && open.text == "("
	if op == OpIn {
		if !isOpen {
			return Constant{}, p.unexpected(open, "IN takes a set of constants in parentheses, such as ('a', 'b')")
		}
		return p.set()
	}
	if isOpen {
		return Constant{}, errAt(open.pos, "a set of constants is only allowed after IN (STIX 2.1 section 9.6.1)")
	}
	c, err := p.scalar("a constant after " + string(op))
	if err != nil {
		return c, err
	}
	switch op {
	case OpLike, OpMatches, OpIsSubset, OpIsSuperset:
		if c.Kind != KindString {
			return c, errAt(c.Offset, "%s takes a string constant, found a constant of type %s (STIX 2.1 section 9.6.1)", op, c.Kind)
		}
	case OpLess, OpLessEqual, OpGreater, OpGreaterEqual:
		// The ordering operators compare "numerically or lexically"
		// (section 9.6.1); booleans have no order, and the patterning
		// grammar leaves them out of the orderable constants.
		if c.Kind == KindBoolean {
			return c, errAt(c.Offset, "%s cannot compare with the boolean %s: booleans have no order; use = or != (STIX 2.1 section 9.6.1)", op, c.Raw)
		}
	}
	switch op {
	case OpMatches:
		return c, p.checkRegexp(c)
	case OpIsSubset, OpIsSuperset:
		return c, checkIPOperand(op, path, c)
	}
	return c, nil
}

// set parses "(c, ...)": one or more constants of one data type (section
// 9.6.1); integers and floats count as one (numeric) type.
func (p *parser) set() (Constant, error) {
	open := p.next()
	s := Constant{Offset: open.pos, Kind: KindSet}
	if p.isPunct(")") {
		return s, errAt(open.pos, "empty set: IN needs at least one constant")
	}
	for {
		c, err := p.scalar("a constant in the set")
		if err != nil {
			return s, err
		}
		if len(s.Set) > 0 && numeric(s.Set[0].Kind) != numeric(c.Kind) {
			return s, errAt(c.Offset, "set mixes %s and %s constants: the values of a set must be of one type (STIX 2.1 section 9.6.1)", s.Set[0].Kind, c.Kind)
		}
		if len(s.Set) == cap(s.Set) {
			// Double, so that a long set leaves little garbage behind.
			s.Set = slices.Grow(s.Set, len(s.Set)+1)
		}
		s.Set = append(s.Set, c)
		t := p.next()
		switch {
		case t.kind == tPunct && t.text == ",":
			continue
		case t.kind == tPunct && t.text == ")":
			s.Raw = p.src[open.pos:t.end]
			return s, nil
		}
		return s, p.unexpected(t, "expected ',' or ')' in the set opened at %d", open.pos)
	}
}

func numeric(k ConstantKind) ConstantKind {
	if k == KindInteger {
		return KindFloat
	}
	return k
}

// scalar parses and validates one non-set constant (section 9.2); what says
// what was expected, for the error when the next token is not a constant.
func (p *parser) scalar(what string) (Constant, error) {
	t := p.peek()
	c := Constant{Offset: t.pos, Raw: t.text, Text: t.val}
	switch t.kind {
	case tString:
		c.Kind = KindString
	case tInt:
		c.Kind = KindInteger
		n, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil || n > maxInt || n < -maxInt {
			return c, errAt(t.pos, "integer %s is outside the STIX range -(2^53-1) to 2^53-1 (STIX 2.1 section 2.10)", short(t.text))
		}
		c.Int = n
	case tFloat:
		c.Kind = KindFloat
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil || math.IsInf(f, 0) {
			return c, errAt(t.pos, "float %s is out of range (STIX 2.1 section 2.6)", short(t.text))
		}
		c.Float = f
	case tIdent:
		if t.text != "true" && t.text != "false" {
			return c, p.unexpected(t, "expected %s", what)
		}
		c.Kind, c.Bool = KindBoolean, t.text == "true"
	case tTimestamp:
		c.Kind = KindTimestamp
		tm, why := parseTimestamp(t.val)
		if why != "" {
			return c, errAt(t.pos, "invalid timestamp %s: %s (STIX 2.1 section 2.16)", short(t.text), why)
		}
		c.Time = tm
	case tHex:
		c.Kind = KindHex
		if len(t.val)%2 != 0 {
			return c, errAt(t.pos, "hex constant %s has an odd number of digits (STIX 2.1 section 9.2)", short(t.text))
		}
		// Section 9.2 names the letters 'a' through 'f'; the patterning
		// grammar's HexDigit is [A-Fa-f0-9], so either case is accepted.
		for i := 0; i < len(t.val); i++ {
			if ch := t.val[i]; !isDigit(ch) && (ch|0x20 < 'a' || ch|0x20 > 'f') {
				return c, errAt(t.pos+2+i, "hex constant may contain only the digits 0-9 and letters a-f, found %q (STIX 2.1 section 9.2)", ch)
			}
		}
		c.Bytes, _ = hex.DecodeString(t.val)
	case tBinary:
		c.Kind = KindBinary
		// Line feeds in the base64 data MUST be ignored (section 9.2).
		b, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(t.val))
		if err != nil {
			return c, errAt(t.pos, "binary constant %s is not valid padded base64 (RFC 4648; STIX 2.1 section 9.2)", short(t.text))
		}
		c.Bytes = b
	default:
		return c, p.unexpected(t, "expected %s", what)
	}
	if p.constants++; p.constants > MaxConstants {
		return c, errAt(t.pos, "more than %d constants in the pattern", MaxConstants)
	}
	p.next()
	return c, nil
}

// parseTimestamp checks the STIX timestamp form YYYY-MM-DDTHH:mm:ss[.s+]Z,
// RFC 3339 in UTC (STIX 2.1 section 2.16), returning a reason when invalid.
func parseTimestamp(s string) (time.Time, string) {
	const form = "must have the form YYYY-MM-DDTHH:mm:ss[.s+]Z"
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[len(s)-1] != 'Z' {
		return time.Time{}, form
	}
	for i := 0; i < len(s)-1; i++ {
		switch i {
		case 4, 7, 10, 13, 16:
		case 19:
			if s[i] != '.' || len(s) == 21 {
				return time.Time{}, form
			}
		default:
			if !isDigit(s[i]) {
				return time.Time{}, form
			}
		}
	}
	// RFC 3339 section 5.7: time-second is 60 only for a leap second, at
	// the end of a month (23:59:60Z on its last day). Go's time package
	// cannot hold second 60, so a leap second reads as the last nanosecond
	// of 23:59:59, which keeps the order of instants for START and STOP;
	// Text keeps the source.
	const leapRule = "second 60 (a leap second) can only follow 23:59 on the last day of a month (RFC 3339 section 5.7)"
	leap := s[17:19] == "60"
	if leap {
		if s[11:16] != "23:59" {
			return time.Time{}, leapRule
		}
		s = s[:17] + "59Z"
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, "not a valid date and time"
	}
	if leap {
		if t = t.Add(time.Second - time.Nanosecond); t.Add(time.Nanosecond).Day() != 1 {
			return time.Time{}, leapRule
		}
	}
	return t, ""
}

// checkTypeName applies the STIX type-name rules (STIX 2.1 section 3.1, and
// sections 11.2 and 11.3 for custom types): 3 to 250 characters of a-z, 0-9
// and hyphen, starting with a letter, without two consecutive hyphens.
func checkTypeName(s string) string {
	switch {
	case len(s) < 3 || len(s) > 250:
		return "must be 3 to 250 characters long"
	case s[0] < 'a' || s[0] > 'z':
		return "must start with a lowercase letter"
	case strings.Contains(s, "--"):
		return "must not contain two consecutive hyphens"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || isDigit(c) || c == '-') {
			return "may contain only a-z, 0-9 and hyphens"
		}
	}
	return ""
}

// objectPath parses <object-type>:<property_name> and its steps (section
// 9.7). An object path is one lexical unit: no whitespace inside.
func (p *parser) objectPath() (ObjectPath, error) {
	t := p.next()
	if t.kind != tIdent || keywords[t.text] {
		return ObjectPath{}, p.unexpected(t, "expected an object path such as file:name")
	}
	colon := p.next()
	if colon.kind != tPunct || colon.text != ":" {
		return ObjectPath{}, p.unexpected(colon, "expected ':' after %s: an object path is <object-type>:<property_name> (STIX 2.1 section 9.7)", short(t.text))
	}
	if msg := checkTypeName(t.text); msg != "" {
		return ObjectPath{}, errAt(t.pos, "invalid object type %s: %s (STIX 2.1 section 3.1)", short(t.text), msg)
	}
	if colon.pos != t.end {
		return ObjectPath{}, errAt(t.end, "whitespace is not allowed inside an object path")
	}
	path := ObjectPath{Offset: t.pos, ObjectType: t.text}
	step, err := p.pathName(colon, true)
	if err != nil {
		return path, err
	}
	path.Steps = append(path.Steps, step)
	for {
		n := p.peek()
		if n.kind != tPunct || n.pos != p.prevEnd {
			return path, nil
		}
		switch n.text {
		case ".":
			p.next()
			if step, err = p.pathName(n, false); err != nil {
				return path, err
			}
		case "[":
			p.next()
			if step, err = p.listIndex(n); err != nil {
				return path, err
			}
		default:
			return path, nil
		}
		path.Steps = append(path.Steps, step)
	}
}

// pathName parses the property name, dictionary key or extension name after
// prev (':' or '.'). Names with characters other than letters, digits and
// underscore, such as '-' and '.', MUST be written in apostrophes (section
// 9.7). The first name, a property of the object itself, MUST be a property
// name: lowercase a-z, 0-9 and underscore, starting with a letter (sections
// 3.1 and 11.1).
func (p *parser) pathName(prev token, first bool) (PathStep, error) {
	t := p.next()
	if t.kind != tIdent && t.kind != tString {
		return PathStep{}, p.unexpected(t, "expected a property name after '%s'", prev.text)
	}
	if t.pos != prev.end {
		return PathStep{}, errAt(prev.end, "whitespace is not allowed inside an object path")
	}
	name := t.text
	if t.kind == tString {
		name = t.val
	}
	if len(name) == 0 || len(name) > 250 {
		return PathStep{}, errAt(t.pos, "property name %s must be 1 to 250 characters long", short(t.text))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case first:
			if !(c >= 'a' && c <= 'z' || i > 0 && (isDigit(c) || c == '_')) {
				return PathStep{}, errAt(t.pos, "invalid property name %s: property names use lowercase a-z, 0-9 and underscore and start with a letter (STIX 2.1 section 3.1)", short(t.text))
			}
		case isIdentStart(c) || isDigit(c):
		case c == '-' || c == '.':
			if t.kind == tIdent {
				return PathStep{}, errAt(t.pos, "%s contains '%c': write it in apostrophes, '%s' (STIX 2.1 section 9.7)", short(name), c, name)
			}
		default:
			return PathStep{}, errAt(t.pos, "invalid character %q in %s: names in object paths use letters, digits, '_', '-' and '.' (STIX 2.1 sections 2.3 and 9.7)", c, short(t.text))
		}
	}
	return PathStep{Name: name, Quoted: t.kind == tString}, nil
}

// listIndex parses the rest of "[n]" or "[*]" after open (section 9.7.2).
func (p *parser) listIndex(open token) (PathStep, error) {
	t := p.next()
	step := PathStep{Index: AnyIndex}
	switch {
	case t.kind == tPunct && t.text == "*":
	case t.kind == tInt:
		n, err := strconv.Atoi(t.text)
		if err != nil || n < 0 || n > maxInt {
			return step, errAt(t.pos, "list index %s must be a non-negative integer (STIX 2.1 section 9.7.2)", short(t.text))
		}
		step.Index = n
	default:
		return step, p.unexpected(t, "expected a list index (a non-negative integer or *) after '['")
	}
	end := p.next()
	if end.kind != tPunct || end.text != "]" {
		return step, p.unexpected(end, "expected ']' to close the list index opened at %d", open.pos)
	}
	if t.pos != open.end || end.pos != t.end {
		return step, errAt(open.pos, "whitespace is not allowed inside an object path")
	}
	return step, nil
}

// short quotes s for an error message, truncated to a readable length.
func short(s string) string {
	return token{kind: tString, text: s}.describe()
}

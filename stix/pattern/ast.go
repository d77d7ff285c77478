// Package pattern parses STIX 2.1 patterns (STIX 2.1 section 9, "STIX
// Patterning"), the language of an indicator's pattern property when its
// pattern_type is "stix".
//
// Parse returns an abstract syntax tree that later checks can walk, or a
// *SyntaxError carrying the byte offset of the first problem. Besides the
// grammar it enforces the rules of section 9 that need no knowledge of SCO
// schemas: constant formats (section 9.2), operand types per operator
// (section 9.6.1): PCRE syntax for MATCHES, addresses on address values
// for ISSUBSET and ISSUPERSET, no ordering of booleans; AND only between
// comparisons one object can satisfy (section 9.5), qualifier constraints
// (section 9.5.1), and type and property name rules (sections 3.1 and 9.7).
// It does not check that properties exist on their object types.
//
// The parser is a hand-written tokenizer plus recursive descent: it runs in
// time linear in the input, caps the input at MaxLength bytes, nesting at
// MaxDepth levels, constants at MaxConstants and regular expressions at
// MaxRegexpBytes, and never panics.
package pattern

import (
	"strconv"
	"strings"
	"time"
)

// Pattern is a parsed STIX pattern: one pattern expression (STIX 2.1
// section 9.4), i.e. observation expressions joined by observation operators.
type Pattern struct {
	Expr ObservationExpression
}

// ObservationExpression is one of *Observation, *CompoundObservation or
// *QualifiedObservation (STIX 2.1 section 9.5).
type ObservationExpression interface {
	Pos() int // byte offset in the source
	String() string
	observationNode()
}

// Observation is a bracketed observation expression, "[ comparisons ]",
// matched against a single Observation (STIX 2.1 section 9.5).
type Observation struct {
	Offset     int
	Comparison ComparisonExpression
}

// ObservationOperator joins observation expressions (STIX 2.1 section 9.5.2).
type ObservationOperator string

// Observation operators, in decreasing precedence (STIX 2.1 section 9.5.3).
const (
	ObsAnd        ObservationOperator = "AND"
	ObsOr         ObservationOperator = "OR"
	ObsFollowedBy ObservationOperator = "FOLLOWEDBY"
)

// CompoundObservation is two or more observation expressions joined by the
// same observation operator, left to right (STIX 2.1 section 9.5.2). A
// parenthesised group nested inside is kept as its own operand.
type CompoundObservation struct {
	Offset   int
	Op       ObservationOperator
	Operands []ObservationExpression
}

// QualifiedObservation is an observation expression, or a parenthesised
// group of them, followed by one or more qualifiers, at most one of each kind
// (STIX 2.1 section 9.5.1). Qualifiers apply left to right.
type QualifiedObservation struct {
	Offset     int
	Expr       ObservationExpression
	Qualifiers []Qualifier
}

// QualifierKind names a qualifier (STIX 2.1 section 9.5.1).
type QualifierKind string

// Qualifier kinds.
const (
	Within    QualifierKind = "WITHIN"
	Repeats   QualifierKind = "REPEATS"
	StartStop QualifierKind = "START"
)

// Qualifier is "WITHIN x SECONDS" (x a positive integer or float), "REPEATS
// x TIMES" (x a positive integer) or "START x STOP y" (timestamps, y not
// before x). STIX 2.1 section 9.5.1.
type Qualifier struct {
	Offset int
	Kind   QualifierKind
	Value  Constant // WITHIN seconds or REPEATS count
	Start  Constant // START timestamp
	Stop   Constant // STOP timestamp
}

// ComparisonExpression is either a *Comparison or a *CompoundComparison
// (STIX 2.1 section 9.6).
type ComparisonExpression interface {
	Pos() int
	String() string
	comparisonNode()
}

// BooleanOperator joins comparison expressions inside an observation
// expression; AND binds tighter than OR (STIX 2.1 sections 9.5.3 and 9.6).
type BooleanOperator string

// Boolean operators.
const (
	BoolAnd BooleanOperator = "AND"
	BoolOr  BooleanOperator = "OR"
)

// CompoundComparison is two or more comparison expressions joined by the same
// Boolean operator, left to right. A parenthesised group nested inside is
// kept as its own operand.
type CompoundComparison struct {
	Offset   int
	Op       BooleanOperator
	Operands []ComparisonExpression
}

// ComparisonOperator is a comparison or set operator (STIX 2.1 section 9.6.1).
type ComparisonOperator string

// Comparison operators.
const (
	OpEqual        ComparisonOperator = "="
	OpNotEqual     ComparisonOperator = "!="
	OpGreater      ComparisonOperator = ">"
	OpLess         ComparisonOperator = "<"
	OpGreaterEqual ComparisonOperator = ">="
	OpLessEqual    ComparisonOperator = "<="
	OpIn           ComparisonOperator = "IN"
	OpLike         ComparisonOperator = "LIKE"
	OpMatches      ComparisonOperator = "MATCHES"
	OpIsSubset     ComparisonOperator = "ISSUBSET"
	OpIsSuperset   ComparisonOperator = "ISSUPERSET"
	OpExists       ComparisonOperator = "EXISTS" // prefix: "EXISTS path", no Value
)

// Comparison is "path [NOT] operator constant", or "[NOT] EXISTS path"
// (STIX 2.1 section 9.6.1). Negated records the NOT modifier.
type Comparison struct {
	Offset   int
	Path     ObjectPath
	Negated  bool
	Operator ComparisonOperator
	Value    Constant // zero for EXISTS
}

// ObjectPath addresses a property of a STIX Cyber-observable Object:
// "<object-type>:<property_name>" followed by ".name", ".'quoted-name'",
// "[index]" or "[*]" steps (STIX 2.1 section 9.7).
type ObjectPath struct {
	Offset     int
	ObjectType string
	Steps      []PathStep // Steps[0] is always a property step
}

// AnyIndex is the PathStep.Index of a "[*]" step (STIX 2.1 section 9.7.2).
const AnyIndex = -1

// PathStep is one step of an object path: a property name, dictionary key or
// extension name (Name set, Quoted if written in apostrophes), or a list
// index (Name empty, Index >= 0 or AnyIndex).
type PathStep struct {
	Name   string
	Quoted bool
	Index  int
}

// IsIndex reports whether the step is a list index.
func (s PathStep) IsIndex() bool { return s.Name == "" }

// ConstantKind is the type of a constant (STIX 2.1 section 9.2).
type ConstantKind string

// Constant kinds.
const (
	KindString    ConstantKind = "string"
	KindInteger   ConstantKind = "integer"
	KindFloat     ConstantKind = "float"
	KindBoolean   ConstantKind = "boolean"
	KindTimestamp ConstantKind = "timestamp"
	KindHex       ConstantKind = "hex"
	KindBinary    ConstantKind = "binary"
	KindSet       ConstantKind = "set" // "(x, y, ...)", the operand of IN
)

// Constant is a literal operand (STIX 2.1 section 9.2). Raw is the source
// text; the decoded value is in the field matching Kind: Text (string, and
// the text between the apostrophes of timestamp, hex and binary), Int,
// Float, Bool, Time (a leap second, 23:59:60, reads as 23:59:59.999999999),
// Bytes (hex and binary) or Set.
type Constant struct {
	Offset int
	Kind   ConstantKind
	Raw    string
	Text   string
	Int    int64
	Float  float64
	Bool   bool
	Time   time.Time
	Bytes  []byte
	Set    []Constant
}

func (*Observation) observationNode()          {}
func (*CompoundObservation) observationNode()  {}
func (*QualifiedObservation) observationNode() {}
func (*Comparison) comparisonNode()            {}
func (*CompoundComparison) comparisonNode()    {}
func (o *Observation) Pos() int                { return o.Offset }
func (o *CompoundObservation) Pos() int        { return o.Offset }
func (o *QualifiedObservation) Pos() int       { return o.Offset }
func (c *Comparison) Pos() int                 { return c.Offset }
func (c *CompoundComparison) Pos() int         { return c.Offset }
func (p *Pattern) String() string              { return p.Expr.String() }
func (o *Observation) String() string          { return "[" + o.Comparison.String() + "]" }

// String forms are canonical: single spaces, and parentheses around every
// nested compound, so that parsing p.String() gives a tree whose String() is
// the same (only offsets and the Raw text of sets may differ).

func (o *CompoundObservation) String() string {
	parts := make([]string, len(o.Operands))
	for i, e := range o.Operands {
		parts[i] = e.String()
		if _, ok := e.(*CompoundObservation); ok {
			parts[i] = "(" + parts[i] + ")"
		}
	}
	return strings.Join(parts, " "+string(o.Op)+" ")
}

func (o *QualifiedObservation) String() string {
	var b strings.Builder
	switch o.Expr.(type) {
	case *Observation:
		b.WriteString(o.Expr.String())
	default:
		b.WriteString("(" + o.Expr.String() + ")")
	}
	for _, q := range o.Qualifiers {
		b.WriteString(" " + q.String())
	}
	return b.String()
}

func (q Qualifier) String() string {
	switch q.Kind {
	case Within:
		return "WITHIN " + q.Value.String() + " SECONDS"
	case Repeats:
		return "REPEATS " + q.Value.String() + " TIMES"
	default:
		return "START " + q.Start.String() + " STOP " + q.Stop.String()
	}
}

func (c *CompoundComparison) String() string {
	parts := make([]string, len(c.Operands))
	for i, e := range c.Operands {
		parts[i] = e.String()
		if _, ok := e.(*CompoundComparison); ok {
			parts[i] = "(" + parts[i] + ")"
		}
	}
	return strings.Join(parts, " "+string(c.Op)+" ")
}

func (c *Comparison) String() string {
	not := ""
	if c.Negated {
		not = "NOT "
	}
	if c.Operator == OpExists {
		return not + "EXISTS " + c.Path.String()
	}
	return c.Path.String() + " " + not + string(c.Operator) + " " + c.Value.String()
}

func (p ObjectPath) String() string {
	var b strings.Builder
	b.WriteString(p.ObjectType + ":")
	for i, s := range p.Steps {
		switch {
		case s.IsIndex() && s.Index == AnyIndex:
			b.WriteString("[*]")
		case s.IsIndex():
			b.WriteString("[" + strconv.Itoa(s.Index) + "]")
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			if s.Quoted {
				b.WriteString("'" + s.Name + "'")
			} else {
				b.WriteString(s.Name)
			}
		}
	}
	return b.String()
}

func (c Constant) String() string {
	if c.Kind != KindSet {
		return c.Raw
	}
	parts := make([]string, len(c.Set))
	for i, e := range c.Set {
		parts[i] = e.String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// ObjectPaths lists the object paths the pattern references, in source
// order, duplicates included; ObjectPath.ObjectType gives the object types.
func (p *Pattern) ObjectPaths() []ObjectPath {
	var out []ObjectPath
	var obs func(ObservationExpression)
	var cmp func(ComparisonExpression)
	obs = func(e ObservationExpression) {
		switch e := e.(type) {
		case *Observation:
			cmp(e.Comparison)
		case *CompoundObservation:
			for _, o := range e.Operands {
				obs(o)
			}
		case *QualifiedObservation:
			obs(e.Expr)
		}
	}
	cmp = func(e ComparisonExpression) {
		switch e := e.(type) {
		case *Comparison:
			out = append(out, e.Path)
		case *CompoundComparison:
			for _, c := range e.Operands {
				cmp(c)
			}
		}
	}
	if p != nil && p.Expr != nil {
		obs(p.Expr)
	}
	return out
}

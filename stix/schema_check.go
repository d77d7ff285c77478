package stix

// Running the schemas over an object and turning gojsonschema's errors into
// findings.

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/xeipuuv/gojsonschema"
)

// check validates one decoded object against the schema of its type (and of
// any extension with a schema) and returns its findings, at most
// schemaMaxFindings of them, and how many more it found. known reports
// whether the type has a schema. Objects without a schema still get the
// property name and extension checks.
func (s *schemaSet) check(typ string, obj map[string]any) (findings []Finding, more int, known bool) {
	return s.checkSkipping(typ, obj, nil)
}

// checkSkipping is check without the findings for which skip, if not nil,
// returns true: problems another check reports already. They are neither
// kept nor counted.
func (s *schemaSet) checkSkipping(typ string, obj map[string]any, skip func(ptr, rule, msg string) bool) (findings []Finding, more int, known bool) {
	cs := s.types[typ]
	c := &schemaCollector{skip: skip}
	if b, _ := obj["defanged"].(bool); b {
		// Defanged values (e.g. "198.51.100[.]3") need not keep their format.
		c.skip = func(ptr, rule, msg string) bool {
			return rule == "schema-pattern" && ptr == "/value" || skip != nil && skip(ptr, rule, msg)
		}
	}
	doc := obj
	if cs != nil || len(s.exts) > 0 {
		var err error
		if doc, err = schemaJSONNumbers(obj); err != nil {
			c.add("", "object", "not a JSON object: "+err.Error())
			return c.out, 0, cs != nil
		}
	}
	if cs != nil {
		s.validate(c, cs, typ, doc, "")
	}
	s.checkNames(c, cs, typ, obj)
	if exts, ok := doc["extensions"].(map[string]any); ok && len(s.exts) > 0 {
		for key, content := range exts {
			es := s.exts[key]
			if es == nil {
				continue
			}
			if m, ok := content.(map[string]any); ok {
				s.validate(c, es, typ, m, "/extensions/"+schemaEscape(key))
			} else {
				c.add("/extensions/"+schemaEscape(key), "schema-type", schemaRender(content)+" must be of type object")
			}
		}
	}
	sort.SliceStable(c.out, func(i, j int) bool { return c.out[i].Pointer < c.out[j].Pointer })
	return c.out, c.dropped, cs != nil
}

// checkCommon validates only the common properties of an object (section
// 3.2), whatever its type, and returns at most schemaMaxFindings findings
// and how many more it found.
func (s *schemaSet) checkCommon(typ string, obj map[string]any) (findings []Finding, more int) {
	cs := s.commonSDO
	switch {
	case scoTypes[typ]:
		cs = s.commonSCO
	case typ == "marking-definition" && s.types[typ] != nil:
		// Section 3.2 gives marking definitions their own, shorter list
		// of common properties (no modified, for one); their schema is
		// little more than that list.
		cs = s.types[typ]
	}
	doc, err := schemaJSONNumbers(obj)
	if err != nil {
		return []Finding{{Rule: "object", Message: "not a JSON object: " + err.Error()}}, 0
	}
	c := &schemaCollector{}
	s.validate(c, cs, typ, doc, "")
	return c.out, c.dropped
}

// schemaCollector gathers findings up to a limit, counting the others.
type schemaCollector struct {
	out     []Finding
	dropped int
	skip    func(ptr, rule, msg string) bool // nil: none skipped
}

func (c *schemaCollector) add(ptr, rule, msg string) {
	if c.skip != nil && c.skip(ptr, rule, msg) {
		return
	}
	if len(c.out) >= schemaMaxFindings {
		c.dropped++
		return
	}
	c.out = append(c.out, Finding{Pointer: ptr, Rule: rule, Message: msg})
}

// validate runs one compiled schema over doc and turns its errors into
// findings whose pointers start with prefix.
func (s *schemaSet) validate(c *schemaCollector, cs *compiledSchema, typ string, doc map[string]any, prefix string) {
	var res *gojsonschema.Result
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%v", r)
			}
		}()
		res, err = cs.schema.Validate(gojsonschema.NewRawLoader(doc))
	}()
	if err != nil {
		c.add(prefix, "schema-internal", "schema "+cs.name+" failed: "+err.Error())
		return
	}
	if res.Valid() {
		return
	}
	errs := res.Errors()
	skip := make([]bool, len(errs))
	for i, e := range errs {
		if skip[i] {
			continue
		}
		segs := schemaContextSegments(e.Context())
		ptr := schemaPointer(segs)
		d := e.Details()
		path := cs.info.normalize(segs, doc)
		val := e.Value()
		switch e.(type) {
		case *gojsonschema.RequiredError:
			p, _ := d["property"].(string)
			c.add(prefix+ptr+"/"+schemaEscape(p), "schema-required", "required property missing")
		case *gojsonschema.InvalidTypeError:
			c.add(prefix+ptr, "schema-type", fmt.Sprintf("%s must be of type %s, not %s", schemaRender(val), d["expected"], d["given"]))
		case *gojsonschema.EnumError:
			if m := cs.info.mustDescr(path); m != "" {
				c.add(prefix+ptr, "schema-enum", schemaRender(val)+" "+m)
			} else {
				c.add(prefix+ptr, "schema-enum", fmt.Sprintf("%s is not one of %s", schemaRender(val), d["allowed"]))
			}
		case *gojsonschema.ConstError:
			if m := cs.info.mustDescr(path); m != "" {
				c.add(prefix+ptr, "schema-const", schemaRender(val)+" "+m)
			} else {
				c.add(prefix+ptr, "schema-const", fmt.Sprintf("%s must be %s", schemaRender(val), d["allowed"]))
			}
		case *gojsonschema.DoesNotMatchPatternError:
			c.add(prefix+ptr, "schema-pattern", s.patternMessage(cs.info, d["pattern"], val, ptr, path, typ))
		case *gojsonschema.ArrayMinItemsError:
			if fmt.Sprint(d["min"]) == "1" {
				c.add(prefix+ptr, "schema-min-items", "list must not be empty")
			} else {
				c.add(prefix+ptr, "schema-min-items", fmt.Sprintf("list must have at least %v items", d["min"]))
			}
		case *gojsonschema.ArrayMaxItemsError:
			c.add(prefix+ptr, "schema-max-items", fmt.Sprintf("list must have at most %v items", d["max"]))
		case *gojsonschema.ItemsMustBeUniqueError:
			c.add(prefix+ptr, "schema-unique-items", fmt.Sprintf("list items %v and %v are equal", d["i"], d["j"]))
		case *gojsonschema.ArrayMinPropertiesError:
			if fmt.Sprint(d["min"]) == "1" {
				c.add(prefix+ptr, "schema-min-properties", "must not be empty")
			} else {
				c.add(prefix+ptr, "schema-min-properties", fmt.Sprintf("must have at least %v properties", d["min"]))
			}
		case *gojsonschema.ArrayMaxPropertiesError:
			c.add(prefix+ptr, "schema-max-properties", fmt.Sprintf("must have at most %v properties", d["max"]))
		case *gojsonschema.AdditionalPropertyNotAllowedError:
			p, _ := d["property"].(string)
			c.add(prefix+ptr+"/"+schemaEscape(p), "schema-additional", fmt.Sprintf("property %q is not allowed here", p))
		case *gojsonschema.FalseError:
			if len(segs) == 1 && prefix == "" {
				c.add(prefix+ptr, "schema-not-allowed", fmt.Sprintf("property %q is not applicable to %s objects", segs[0], typ))
			} else {
				c.add(prefix+ptr, "schema-not-allowed", "property not allowed here")
			}
		case *gojsonschema.NumberAnyOfError:
			if alts, ok := cs.info.anyOf[path]; ok {
				c.add(prefix+ptr, "schema-any-of", "at least one of "+schemaAltList(alts)+" must be present")
				schemaSkipRequired(errs, skip, i, ptr, alts)
			} else {
				c.add(prefix+ptr, "schema-any-of", schemaDescribe(cs.info, path, "does not match any of the allowed alternatives"))
			}
		case *gojsonschema.NumberOneOfError:
			if alts, ok := cs.info.oneOf[path]; ok {
				if schemaSatisfied(alts, val) > 1 {
					c.add(prefix+ptr, "schema-one-of", "only one of "+schemaAltList(alts)+" may be present")
				} else {
					c.add(prefix+ptr, "schema-one-of", "exactly one of "+schemaAltList(alts)+" must be present")
				}
				schemaSkipRequired(errs, skip, i, ptr, alts)
			} else {
				c.add(prefix+ptr, "schema-one-of", schemaDescribe(cs.info, path, "must match exactly one of the allowed alternatives"))
			}
		case *gojsonschema.NumberAllOfError, *gojsonschema.ConditionThenError, *gojsonschema.ConditionElseError:
			// The errors of the failing subschemas follow and say more.
		case *gojsonschema.NumberNotError:
			c.add(prefix+ptr, "schema-not", s.notMessage(cs.info, path, val))
		case *gojsonschema.MissingDependencyError:
			dep, _ := d["dependency"].(string)
			c.add(prefix+ptr+"/"+schemaEscape(dep), "schema-dependency", schemaDependencyMessage(cs.info, path, dep, val))
		case *gojsonschema.StringLengthGTEError:
			if fmt.Sprint(d["min"]) == "1" {
				c.add(prefix+ptr, "schema-min-length", "must not be empty")
			} else {
				c.add(prefix+ptr, "schema-min-length", fmt.Sprintf("%s must be at least %v characters long", schemaRender(val), d["min"]))
			}
		case *gojsonschema.StringLengthLTEError:
			c.add(prefix+ptr, "schema-max-length", fmt.Sprintf("%s must be at most %v characters long", schemaRender(val), d["max"]))
		case *gojsonschema.NumberGTEError, *gojsonschema.NumberGTError:
			c.add(prefix+ptr, "schema-minimum", schemaRangeMessage(cs.info, path, val, "less than the minimum", d["min"]))
		case *gojsonschema.NumberLTEError, *gojsonschema.NumberLTError:
			c.add(prefix+ptr, "schema-maximum", schemaRangeMessage(cs.info, path, val, "more than the maximum", d["max"]))
		case *gojsonschema.ArrayContainsError:
			c.add(prefix+ptr, "schema-contains", schemaDescribe(cs.info, path, "does not contain a required value"))
		case *gojsonschema.MultipleOfError:
			c.add(prefix+ptr, "schema-multiple-of", fmt.Sprintf("%s must be a multiple of %v", schemaRender(val), d["multiple"]))
		case *gojsonschema.ArrayNoAdditionalItemsError:
			c.add(prefix+ptr, "schema-additional-items", "list has more items than allowed")
		case *gojsonschema.InvalidPropertyNameError:
			c.add(prefix+ptr, "schema-property-name", fmt.Sprintf("property name %v is not allowed", d["property"]))
		case *gojsonschema.DoesNotMatchFormatError:
			c.add(prefix+ptr, "schema-format", fmt.Sprintf("%s is not a valid %v", schemaRender(val), d["format"]))
		default:
			c.add(prefix+ptr, "schema-"+strings.ReplaceAll(e.Type(), "_", "-"), schemaRender(val)+" is invalid: "+e.Type())
		}
	}
}

// schemaSkipRequired marks the "required" errors that gojsonschema merged from the
// closest alternative of an anyOf/oneOf at ptr: the alternatives' finding
// already names them.
func schemaSkipRequired(errs []gojsonschema.ResultError, skip []bool, at int, ptr string, alts [][]string) {
	names := map[string]bool{}
	for _, a := range alts {
		for _, n := range a {
			names[n] = true
		}
	}
	for j := at + 1; j < len(errs); j++ {
		if _, ok := errs[j].(*gojsonschema.RequiredError); !ok {
			continue
		}
		p, _ := errs[j].Details()["property"].(string)
		if names[p] && schemaPointer(schemaContextSegments(errs[j].Context())) == ptr {
			skip[j] = true
		}
	}
}

// schemaContextSegments returns the path of an error as unescaped segments, without
// the "(root)" head.
func schemaContextSegments(ctx *gojsonschema.JsonContext) []string {
	if ctx == nil {
		return nil
	}
	parts := strings.Split(ctx.String("\x00"), "\x00")
	if len(parts) > 0 && parts[0] == gojsonschema.STRING_CONTEXT_ROOT {
		parts = parts[1:]
	}
	return parts
}

// schemaPointer renders segments as an RFC 6901 JSON pointer.
func schemaPointer(segs []string) string {
	if len(segs) == 0 {
		return ""
	}
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(schemaEscape(s))
	}
	return b.String()
}

// normalize maps the segments of a value's location in doc to the schema path
// that describes it ("*" for list indexes and dictionary keys).
func (info *schemaInfo) normalize(segs []string, doc map[string]any) string {
	var b strings.Builder
	var cur any = doc
	for _, seg := range segs {
		switch v := cur.(type) {
		case []any:
			b.WriteString("/*")
			if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(v) {
				cur = v[i]
			} else {
				cur = nil
			}
		case map[string]any:
			named := b.String() + "/" + schemaEscape(seg)
			if info.paths[named] {
				b.WriteString("/" + schemaEscape(seg))
			} else {
				b.WriteString("/*")
			}
			cur = v[seg]
		default:
			b.WriteString("/" + schemaEscape(seg))
			cur = nil
		}
	}
	return b.String()
}

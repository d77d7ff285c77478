package stix

// Numbers for gojsonschema, which needs json.Number values.

import (
	"encoding/json"
	"math"
	"strconv"
)

// schemaJSONNumbers returns obj with its numbers as json.Number, which gojsonschema
// needs to check types and ranges (with float64 it silently skips them). The
// object is copied only where it holds other number types.
func schemaJSONNumbers(obj map[string]any) (map[string]any, error) {
	v, changed, ok := schemaNumbersIn(obj)
	if !ok {
		// Not a decoded JSON document (Go slices or maps of other types):
		// take the slow road through encoding/json.
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		m, err := decodeSchemaJSON(b)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	if !changed {
		return obj, nil
	}
	return v.(map[string]any), nil
}

// schemaNumbersIn converts the numbers of v; changed reports a copy was made, ok
// false a value of a type JSON decoding does not produce.
func schemaNumbersIn(v any) (out any, changed, ok bool) {
	switch v := v.(type) {
	case nil, string, bool, json.Number:
		return v, false, true
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, false, false
		}
		if v == math.Trunc(v) && math.Abs(v) < 1e21 {
			return json.Number(strconv.FormatFloat(v, 'f', -1, 64)), true, true
		}
		return json.Number(strconv.FormatFloat(v, 'g', -1, 64)), true, true
	case int:
		return json.Number(strconv.Itoa(v)), true, true
	case int64:
		return json.Number(strconv.FormatInt(v, 10)), true, true
	case map[string]any:
		var cp map[string]any
		for k, x := range v {
			y, ch, ok := schemaNumbersIn(x)
			if !ok {
				return nil, false, false
			}
			if ch {
				if cp == nil {
					cp = make(map[string]any, len(v))
					for k2, x2 := range v {
						cp[k2] = x2
					}
				}
				cp[k] = y
			}
		}
		if cp == nil {
			return v, false, true
		}
		return cp, true, true
	case []any:
		var cp []any
		for i, x := range v {
			y, ch, ok := schemaNumbersIn(x)
			if !ok {
				return nil, false, false
			}
			if ch {
				if cp == nil {
					cp = make([]any, len(v))
					copy(cp, v)
				}
				cp[i] = y
			}
		}
		if cp == nil {
			return v, false, true
		}
		return cp, true, true
	default:
		return nil, false, false
	}
}

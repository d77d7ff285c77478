package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/taxiid/taxiid/stix"
)

// errInvalid makes validate exit with status 1 without another message.
var errInvalid = errors.New("invalid STIX content")

// validate is `taxiid validate [flags] FILE...`: it checks bundles,
// envelopes or single objects, from files or standard input ("-"), prints
// every finding, and fails when any object is invalid. Partners run it
// before they push.
func validate(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	level := fs.String("level", "default", "validation level: strict, default or permissive")
	schemaDir := fs.String("schema-dir", "", "directory of JSON schemas adding to or overriding the built-in ones")
	quiet := fs.Bool("quiet", false, "print failures only, not warnings and the summary")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: taxiid validate [flags] FILE... (- for standard input)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("validate: no files given")
	}
	lvl, err := stix.ParseLevel(*level)
	if err != nil {
		return err
	}
	v, err := stix.NewValidator(stix.Options{SchemaDir: *schemaDir})
	if err != nil {
		return err
	}

	var total, failed int
	for _, name := range fs.Args() {
		var data []byte
		if name == "-" {
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(name)
		}
		if err != nil {
			return err
		}
		objs, err := objectsOf(data)
		if err != nil {
			fmt.Fprintf(stdout, "%s: %v\n", name, err)
			failed++
			continue
		}
		for i, raw := range objs {
			total++
			id, warnings, err := v.Validate(raw, lvl)
			where := fmt.Sprintf("%s: objects[%d]", name, i)
			if id.ID != "" {
				where += " " + id.ID
			}
			var ve *stix.ValidationError
			if errors.As(err, &ve) {
				failed++
				for _, f := range ve.Findings {
					fmt.Fprintf(stdout, "%s: error: %s [%s]\n", where, f, f.Rule)
				}
			}
			if !*quiet {
				for _, f := range warnings {
					fmt.Fprintf(stdout, "%s: warning: %s [%s]\n", where, f, f.Rule)
				}
			}
		}
	}
	if !*quiet {
		fmt.Fprintf(stdout, "%d objects checked at level %s, %d invalid\n", total, lvl, failed)
	}
	if failed > 0 {
		return errInvalid
	}
	return nil
}

// objectsOf returns the objects of a bundle or envelope, or the document
// itself when it is a single object.
func objectsOf(data []byte) ([]json.RawMessage, error) {
	var doc struct {
		Type    *string          `json:"type"`
		Objects *json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if doc.Objects == nil || (doc.Type != nil && *doc.Type != "bundle") {
		return []json.RawMessage{data}, nil
	}
	var objs []json.RawMessage
	if err := json.Unmarshal(*doc.Objects, &objs); err != nil {
		return nil, fmt.Errorf("objects is not a list: %v", err)
	}
	return objs, nil
}

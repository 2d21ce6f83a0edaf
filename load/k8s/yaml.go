package k8s

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// node is a JSON value with its object keys in their order.
type node struct {
	keys   []string // an object's keys
	vals   []*node  // an object's values, or an array's items
	object bool
	array  bool
	str    *string // a string
	raw    string  // a number, true, false or null, as written
}

// appendYAML appends the YAML block form of the JSON document doc: the
// same data, keys in the same order, so that a YAML parser reads back
// exactly what encoding/json would.
func appendYAML(out, doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	n, err := readNode(dec)
	if err != nil {
		return nil, fmt.Errorf("k8s: yaml: %w", err)
	}
	var b bytes.Buffer
	b.Write(out)
	writeNode(&b, n, 0, "")
	return b.Bytes(), nil
}

func readNode(dec *json.Decoder) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &node{object: t == '{', array: t == '['}
		for dec.More() {
			if n.object {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k.(string))
			}
			v, err := readNode(dec)
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		return &node{str: &t}, nil
	case json.Number:
		return &node{raw: t.String()}, nil
	case bool:
		return &node{raw: fmt.Sprint(t)}, nil
	default:
		return &node{raw: "null"}, nil
	}
}

// inline reports whether n is written on its key's line.
func (n *node) inline() bool { return !(n.object || n.array) || len(n.vals) == 0 }

func (n *node) scalar() string {
	switch {
	case n.object:
		return "{}"
	case n.array:
		return "[]"
	case n.str != nil:
		return yamlString(*n.str)
	}
	return n.raw
}

// writeNode writes a collection at the given indentation; the first line
// starts with first instead ("- " for an item of a list) when it is set.
func writeNode(b *bytes.Buffer, n *node, indent int, first string) {
	pad := strings.Repeat(" ", indent)
	lead := func(i int) string {
		if i == 0 && first != "" {
			return first
		}
		return pad
	}
	if n.inline() {
		fmt.Fprintf(b, "%s%s\n", lead(0), n.scalar())
		return
	}
	for i, v := range n.vals {
		if n.array {
			if v.inline() {
				fmt.Fprintf(b, "%s- %s\n", lead(i), v.scalar())
				continue
			}
			if v.array { // a list in a list: on its own lines
				fmt.Fprintf(b, "%s-\n", lead(i))
				writeNode(b, v, indent+2, "")
				continue
			}
			writeNode(b, v, indent+2, lead(i)+"- ")
			continue
		}
		key := yamlString(n.keys[i])
		switch {
		case v.inline():
			fmt.Fprintf(b, "%s%s: %s\n", lead(i), key, v.scalar())
		case v.array: // kubectl's style: a list's dashes under its key
			fmt.Fprintf(b, "%s%s:\n", lead(i), key)
			writeNode(b, v, indent, "")
		default:
			fmt.Fprintf(b, "%s%s:\n", lead(i), key)
			writeNode(b, v, indent+2, "")
		}
	}
}

// plain matches the strings YAML reads back as the same string when they
// are written without quotes: words, paths, flags and image names, but
// not numbers, times, or anything with a character YAML gives a meaning.
var plain = regexp.MustCompile(`^(--?)?[A-Za-z/][A-Za-z0-9_./:-]*$`)

// yamlString writes s plain when that is unambiguous, and otherwise as a
// double-quoted scalar (JSON's string syntax is YAML's double-quoted one).
func yamlString(s string) string {
	if plain.MatchString(s) && !strings.HasSuffix(s, ":") && !yamlReserved[strings.ToLower(s)] {
		return s
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// yamlReserved are the words YAML 1.1 or 1.2 reads as booleans or null.
var yamlReserved = map[string]bool{
	"y": true, "n": true, "yes": true, "no": true, "on": true, "off": true,
	"true": true, "false": true, "null": true, "~": true,
}

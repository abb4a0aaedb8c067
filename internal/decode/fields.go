package decode

import "github.com/valyala/fastjson"

// kind is the JSON type of a field's value, as validation needs it.
type kind uint8

const (
	kindAbsent kind = iota
	kindNull
	kindString
	kindNumber
	kindTrue
	kindFalse
	kindObject
	kindArray
)

// String names the kind as the reject details do ("want a string, got number").
func (k kind) String() string {
	return [...]string{"absent", "null", "string", "number", "true", "false", "object", "array"}[k]
}

// field is one top-level value of a record: for a string, its unescaped bytes; for a number, its
// literal text. Validation works on fields, so that it is the same code whichever parser found
// them.
type field struct {
	kind kind
	raw  []byte
}

// fields gives a record's top-level fields by name.
type fields interface {
	get(name string) field
	// str turns a string field's bytes into a string, possibly one made before.
	str(b []byte) string
}

// objFields reads fields from a value parsed by fastjson, the general parser.
type objFields struct{ o *fastjson.Object }

func (objFields) str(b []byte) string { return string(b) }

func (f objFields) get(name string) field {
	v := f.o.Get(name)
	if v == nil {
		return field{}
	}
	switch v.Type() {
	case fastjson.TypeNull:
		return field{kind: kindNull}
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return field{kind: kindString, raw: b}
	case fastjson.TypeNumber:
		return field{kind: kindNumber, raw: v.MarshalTo(nil)}
	case fastjson.TypeTrue:
		return field{kind: kindTrue}
	case fastjson.TypeFalse:
		return field{kind: kindFalse}
	case fastjson.TypeObject:
		return field{kind: kindObject}
	}
	return field{kind: kindArray}
}

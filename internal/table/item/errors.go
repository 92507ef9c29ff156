package item

import "strconv"

// ValidationError reports input that DynamoDB would refuse with a
// ValidationException: an invalid number, an empty or duplicate set, a
// wrong key, an oversized item. Msg follows DynamoDB's wording where one is
// known; Path names the offending attribute ("Item.price",
// "Item.tags[2]") when there is one. The API layer turns it into a
// ValidationException whose message is [ValidationError.Message].
type ValidationError struct {
	Path string
	Msg  string
}

// Error returns "item: " followed by the path and the message.
func (e *ValidationError) Error() string { return "item: " + e.Message() }

// Message returns the text for a ValidationException: the path, if any,
// and the message.
func (e *ValidationError) Message() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// inName prefixes the path of err with the attribute or member name
// when err is a *ValidationError; other errors pass unchanged. Decoders
// build paths this way, from the inside out as errors return, so that the
// happy path renders and allocates nothing.
func inName(err error, name string) error {
	if ve, ok := err.(*ValidationError); ok {
		switch {
		case ve.Path == "":
			ve.Path = name
		case ve.Path[0] == '[':
			ve.Path = name + ve.Path
		default:
			ve.Path = name + "." + ve.Path
		}
	}
	return err
}

// inIndex prefixes the path of err with the list or set index i.
func inIndex(err error, i int) error {
	if ve, ok := err.(*ValidationError); ok {
		seg := "[" + strconv.Itoa(i) + "]"
		switch {
		case ve.Path == "" || ve.Path[0] == '[':
			ve.Path = seg + ve.Path
		default:
			ve.Path = seg + "." + ve.Path
		}
	}
	return err
}

// inRoot prefixes the path of err with the parameter name root, if any.
func inRoot(err error, root string) error {
	if root == "" {
		return err
	}
	return inName(err, root)
}

// SyntaxError reports malformed JSON: DynamoDB answers it with a
// SerializationException rather than a ValidationException.
type SyntaxError struct {
	Offset int // byte offset of the problem in the input
	Msg    string
}

// Error returns "item: " followed by the message and the offset.
func (e *SyntaxError) Error() string {
	return "item: invalid JSON at offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

package expr

import "strconv"

// Kind names the request parameter an expression came from. It prefixes
// DynamoDB's messages ("Invalid UpdateExpression: ...").
type Kind uint8

// The expression parameters of the DynamoDB API.
const (
	ConditionExpression Kind = iota + 1
	FilterExpression
	KeyConditionExpression
	UpdateExpression
	ProjectionExpression
)

// String returns the parameter name, such as "UpdateExpression".
func (k Kind) String() string {
	switch k {
	case ConditionExpression:
		return "ConditionExpression"
	case FilterExpression:
		return "FilterExpression"
	case KeyConditionExpression:
		return "KeyConditionExpression"
	case UpdateExpression:
		return "UpdateExpression"
	case ProjectionExpression:
		return "ProjectionExpression"
	}
	return "Expression"
}

// ValidationError is every error of this package: a malformed or invalid
// expression, a bad ExpressionAttributeNames or ExpressionAttributeValues
// entry, or an update that cannot apply to an item. DynamoDB answers all of
// them with a ValidationException; the API layer sends
// [ValidationError.Message] as its message.
type ValidationError struct {
	// Kind is the expression the error is about; 0 for errors about the
	// ExpressionAttributeNames and ExpressionAttributeValues maps as a
	// whole (unused or malformed entries).
	Kind Kind
	// Pos is the byte offset in the expression of the offending token, or
	// -1 when the error has no single position.
	Pos int
	// Token is the offending token as written ("<EOF>" at the end of the
	// expression), or "" when there is none.
	Token string
	// Msg is the detail, in DynamoDB's words where they are known.
	Msg string
	// Runtime is set when the expression is valid but could not be applied
	// to an item (ADD to a string, a missing operand, a number overflow).
	// DynamoDB's messages for these carry no "Invalid ...:" prefix.
	Runtime bool

	near string // the source around Token, for syntax errors
}

// Error returns the error with the package prefix, the expression kind and
// the position: `expr: invalid UpdateExpression: syntax error at 14 near
// "AND"`.
func (e *ValidationError) Error() string {
	s := "expr: "
	switch {
	case e.Runtime:
		s += e.Kind.String() + ": "
	case e.Kind != 0:
		s += "invalid " + e.Kind.String() + ": "
	}
	if e.Pos >= 0 && e.Token != "" && e.Msg == msgSyntax {
		return s + "syntax error at " + strconv.Itoa(e.Pos) + " near " + strconv.Quote(e.Token)
	}
	s += e.Msg
	if e.Pos >= 0 {
		s += " (at " + strconv.Itoa(e.Pos)
		if e.Token != "" {
			s += " near " + strconv.Quote(e.Token)
		}
		s += ")"
	}
	return s
}

// Message returns the text of the ValidationException, worded like
// DynamoDB's: `Invalid UpdateExpression: Syntax error; token: "AND", near:
// "a AND b"`, followed by the position when there is one.
func (e *ValidationError) Message() string {
	var s string
	if e.Kind != 0 && !e.Runtime {
		s = "Invalid " + e.Kind.String() + ": "
	}
	if e.Msg == msgSyntax {
		return s + "Syntax error; token: " + strconv.Quote(e.Token) + ", near: " + strconv.Quote(e.near) + ", position: " + strconv.Itoa(e.Pos)
	}
	return s + e.Msg
}

// msgSyntax marks a syntax error; Message renders it with token and
// context.
const msgSyntax = "Syntax error"

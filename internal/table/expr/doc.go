// Package expr parses, compiles and evaluates DynamoDB's expression
// language: ConditionExpression and FilterExpression ([Condition]),
// UpdateExpression ([Update]), KeyConditionExpression ([KeyCondition]) and
// ProjectionExpression ([Projection]), with ExpressionAttributeNames (#name)
// and ExpressionAttributeValues (:value).
//
// # Compile once, evaluate many times
//
// A [Compiler] takes the names and values of one request and compiles each
// of its expressions; [Compiler.Done] then refuses names and values that no
// expression used, as DynamoDB does across all the expressions of a
// request. The Compile* functions do the same for a lone expression.
// Compiling checks everything DynamoDB checks before it reads an item:
// syntax, reserved words used as bare names (the full list of DynamoDB's
// reserved words is in reserved.go), undefined placeholders, function names
// and operand counts, the types of constant operands, overlapping or
// conflicting update and projection paths, the 4 KB and 300-operator
// limits.
//
// The compiled forms are immutable and safe for concurrent use by any
// number of goroutines: [Condition.Eval], [Update.Apply],
// [Projection.Apply], [KeyCondition.Match] and [KeyCondition.Bounds] never
// modify them, nor the items they are given. [Update.Apply] returns a new
// item that shares unchanged values with the old one.
//
// # Errors
//
// Every error is a *[ValidationError] (DynamoDB answers them all with a
// ValidationException). It carries the expression [Kind], the byte offset
// and token of the problem, and a message worded like DynamoDB's, which
// [ValidationError.Message] renders for the API ("Invalid UpdateExpression:
// Syntax error; token: ...", "... unused in expressions: keys: {:v}").
// Errors that arise while applying a valid update to an item (ADD to a
// string, list_append of a missing attribute, a number overflow) have
// Runtime set. ErrConditionFailed is not here: whether a false condition
// fails a write is the storage layer's business.
//
// # Parser
//
// The parser is hand-written recursive descent over a token slice (no
// generator: DynamoDB's grammar is small, and hand-written code gives
// DynamoDB's error positions and messages, bounded recursion and no
// allocations beyond the tree). Precedence, loosest first: OR, AND, NOT,
// then comparisons, BETWEEN, IN and functions; keywords are
// case-insensitive and function names case-sensitive, as in DynamoDB.
//
// This package imports only the standard library and
// internal/table/item: no engine, no HTTP.
package expr

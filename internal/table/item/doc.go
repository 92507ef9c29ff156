// Package item is the attribute-value model of pricestream's tables, the
// stand-in for DynamoDB items: values, items, keys, and their encodings.
//
// # Values
//
// A [Value] is one DynamoDB attribute value of a [Type]: S, N, B, BOOL,
// NULL, L, M, SS, NS or BS. Numbers are exact decimals ([Number]) with
// DynamoDB's limits — 38 significant digits, magnitudes 1e-130 to
// 9.99…e125 — kept in DynamoDB's canonical text ("1.50" is stored and
// returned as "1.5", "129.99" stays "129.99"); arithmetic ([Number.Add],
// [Number.Sub]) is exact or fails. Sets are never empty and never hold
// duplicates. [Equal], [Compare], [HasPrefix] and [Contains] give the
// comparisons DynamoDB's expressions use.
//
// An [Item] maps attribute names to values. [Item.Size] counts it as
// DynamoDB does (limit [MaxSize], 400 KB).
//
// # Encodings
//
//   - Attribute-value JSON ({"S":"x"}, {"N":"1"}, {"M":{...}}), the form
//     of the DynamoDB APIs: [ParseItem], [ParseValue], [Item.AppendJSON].
//     Decoding is strict and its errors name the path of the bad value.
//   - Plain JSON, the form of the native API: [ParseJSON],
//     [Item.AppendPlainJSON]. Numbers are read from their text, never
//     through float64.
//   - Binary, the storage form: [Item.AppendBinary], [DecodeBinary];
//     compact, exact, and canonical: equal items (numbers by value, sets
//     as sets) encode to equal bytes, so comparing encodings compares
//     items. A producer whose values are not Items writes the same bytes
//     without building one with [AppendBinaryHeader], [AppendBinaryName]
//     and the value builders ([AppendBinaryS], [AppendBinaryN], …).
//   - Ordered key bytes: [Key.AppendOrdered], [AppendOrdered]; byte order
//     equals key order (numbers numerically, strings and binaries
//     bytewise), for an index kept sorted by key.
//
// # Keys
//
// A [KeySchema] names the partition key and optional sort key (S, N or
// B). [KeySchema.KeyOf] extracts and checks the key of an item,
// [KeySchema.KeyOfBinary] that of an item in binary form (checking the
// whole form and the item as [Item.Validate] does, without decoding it),
// [KeySchema.ParseKey] checks a Key parameter.
//
// # Errors
//
// Input DynamoDB would refuse gives a *[ValidationError] (path and message,
// DynamoDB's wording where known); malformed JSON gives a *[SyntaxError].
//
// # Imports and concurrency
//
// This package is pure: it imports no engine, no HTTP and no other
// pricestream package, only the standard library and
// github.com/cockroachdb/apd/v3 for decimal arithmetic. Values, Numbers and
// Keys are immutable and safe for concurrent use; an Item is a map, safe
// for concurrent reads but not for a write concurrent with anything.
package item

// Package base holds the vocabulary that package model and the runtimes
// under it (model/tree, model/linear) share: the description of a loaded
// model ([Info], [Output]), the format names and the errors of loading and
// predicting.
//
// It exists so that the runtimes can return these types without importing
// package model, which imports them to offer its format-detecting loader.
// Package model re-exports every name here; code outside internal/model uses
// those names, never this package.
//
// # Concurrency
//
// The package has no state; its values are immutable once made.
// It imports no other pricestream package.
package base

package base

import (
	"errors"
	"strconv"
)

// Names of the model file formats.
const (
	// FormatXGBoostJSON is a model saved by XGBoost's save_model("m.json").
	FormatXGBoostJSON = "xgboost-json"
	// FormatLightGBM is a LightGBM text model (save_model("m.txt")).
	FormatLightGBM = "lightgbm"
	// FormatLinearJSON is pricestream's JSON file of linear or logistic
	// regression coefficients (see package model/linear).
	FormatLinearJSON = "linear-json"
)

// Output says what a model's predictions mean.
type Output int

// The kinds of output.
const (
	// OutputRegression is an unbounded real value.
	OutputRegression Output = iota + 1
	// OutputProbability is a probability in [0, 1], the output of a
	// logistic link (XGBoost binary:logistic and reg:logistic, LightGBM
	// binary, logistic regression).
	OutputProbability
)

// String returns "regression", "probability" or "Output(n)".
func (o Output) String() string {
	switch o {
	case OutputRegression:
		return "regression"
	case OutputProbability:
		return "probability"
	}
	return "Output(" + strconv.Itoa(int(o)) + ")"
}

// Info describes a loaded model.
type Info struct {
	// Format is the file format: FormatXGBoostJSON, FormatLightGBM or
	// FormatLinearJSON.
	Format string
	// Version is what the file says about the program or format version
	// that wrote it: "1.7.4" for XGBoost, "v4" for LightGBM, "1" for
	// linear-json.
	Version string
	// Objective is the objective as the file names it, such as
	// "binary:logistic" (XGBoost), "binary sigmoid:1" (LightGBM) or
	// "logistic" (linear-json).
	Objective string
	// NumTrees is the number of trees of a tree ensemble; 0 for a linear
	// model.
	NumTrees int
	// Output says what predictions mean.
	Output Output
}

// Errors callers branch on; test with errors.Is.
var (
	// ErrInvalidModel means a model file is malformed or inconsistent. The
	// error is a *LoadError that names the problem and where it is.
	ErrInvalidModel = errors.New("model: invalid model file")
	// ErrUnsupported means a well-formed model file uses something no
	// runtime implements (a multi-class objective, DART, linear trees…).
	// The error is a *LoadError.
	ErrUnsupported = errors.New("model: unsupported model")
	// ErrUnknownFormat means the format name is not one of the known ones,
	// or the format of a file could not be detected.
	ErrUnknownFormat = errors.New("model: unknown format")
	// ErrFeatureCount means a row does not have the number of values the
	// model expects.
	ErrFeatureCount = errors.New("model: wrong number of features")
)

// LoadError reports a model file that could not be loaded.
//
// errors.Is(err, ErrInvalidModel) or errors.Is(err, ErrUnsupported) tells
// the two apart; the message names the format, the position and the problem:
//
//	model: lightgbm: line 57 (Tree=3): threshold value 4: "0.3x" is not a number
type LoadError struct {
	// Format is the format being read, such as FormatXGBoostJSON.
	Format string
	// Pos says where the problem is, in the words of the format: "line 12",
	// "offset 1045 (line 1, column 1046)", "tree 3 node 7". It may be empty.
	Pos string
	// Kind is ErrInvalidModel or ErrUnsupported.
	Kind error
	// Err says what is wrong.
	Err error
}

// Error returns "model: FORMAT: POS: problem".
func (e *LoadError) Error() string {
	s := "model: " + e.Format
	if e.Pos != "" {
		s += ": " + e.Pos
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns Kind and Err, so errors.Is matches both.
func (e *LoadError) Unwrap() []error { return []error{e.Kind, e.Err} }

// Invalid returns a *LoadError of kind ErrInvalidModel.
func Invalid(format, pos string, err error) *LoadError {
	return &LoadError{Format: format, Pos: pos, Kind: ErrInvalidModel, Err: err}
}

// Unsupported returns a *LoadError of kind ErrUnsupported.
func Unsupported(format, pos string, err error) *LoadError {
	return &LoadError{Format: format, Pos: pos, Kind: ErrUnsupported, Err: err}
}

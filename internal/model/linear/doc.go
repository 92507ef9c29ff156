// Package linear evaluates linear and logistic regression models read from
// pricestream's linear-json format ([Load]), the way a data scientist
// exports scikit-learn's LinearRegression or LogisticRegression (see
// internal/model/testdata/gen.py for an exporter).
//
// # Format
//
// A linear-json file is one JSON object:
//
//		{
//		  "type": "logistic",
//		  "features": ["views", "clicks", "price_ratio"],
//		  "coefficients": [0.0026, 0.046, -2.02],
//		  "intercept": 2.07,
//		  "missing": [40.0, 8.2, 0.99]
//		}
//
//	  - type: "linear" (the prediction is the score) or "logistic" (the
//	    prediction is the probability 1/(1+exp(-score))).
//	  - features: the feature names, in row order; non-empty and distinct.
//	  - coefficients: one per feature.
//	  - intercept: added to the score; 0 if absent.
//	  - missing (optional): one value per feature, used in place of a missing
//	    (NaN) input, as a fitted imputer (scikit-learn SimpleImputer's
//	    statistics_) would. Without it a missing input counts as 0: its term
//	    drops out of the score.
//
// The score is intercept + Σ coefficients[i]·x[i], summed in float64 in
// feature order. Numbers are JSON numbers, so finite; unknown fields are
// errors, so a misspelt field is not silently ignored.
//
// # Concurrency
//
// A [Model] is immutable once loaded: any number of goroutines may call its
// methods at once. Predict neither allocates nor blocks.
//
// This package imports only model/internal/base of pricestream.
package linear

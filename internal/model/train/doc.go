// Package train fits the demand model of the pricing policy: a
// gradient-boosted ensemble of regression trees that predicts the units a
// product sells from its features and a candidate price, written as an
// XGBoost JSON model file that model/tree and XGBoost itself load.
//
// # Training
//
// [Train] fits [Data] (rows of features and a label per row) with squared
// error (XGBoost's reg:squarederror), as XGBoost's depth-wise "hist" tree
// method does: every feature is cut into at most [Config.MaxBins] bins at
// its quantiles, the gradients of a node's rows are summed per bin, and a
// node takes the split of largest gain G_L²/(H_L+λ) + G_R²/(H_R+λ) −
// G²/(H+λ) that leaves each child [Config.MinChildWeight] and gains more
// than [Config.Gamma]. The smaller child's histogram is built from its
// rows and the larger one's is the parent's minus it. Leaves are
// −G/(H+λ) scaled by [Config.Eta]. The first prediction (base_score) is the
// mean training label.
//
// # Missing values
//
// A NaN feature value is missing. Each split learns a default direction as
// XGBoost does: the rows with the feature missing are tried on both sides
// and go where the gain is larger; with none missing in the node, missing
// values later go to the side with more rows.
//
// # Monotone constraints
//
// [Config.Monotone] makes the prediction non-increasing (-1) or
// non-decreasing (+1) in a feature, with XGBoost's monotone_constraints
// method: a split on a constrained feature whose child weights are in the
// wrong order is refused, and the mean of the two child weights becomes an
// upper bound of every weight below one child and a lower bound below the
// other, bounds that pass down to all descendants and clamp their weights.
// Every tree is then monotone in the feature, for any values of the
// others, and so is their sum. The pricing policy needs demand
// non-increasing in price and price_ratio, or it exploits noise.
//
// # Determinism
//
// Thresholds are float32, as in XGBoost, and lie between training values;
// rows are routed in training by their bins exactly as the saved model
// routes float32(x) < threshold, and predictions are summed in float32 in
// tree order, so [Model.Predict] equals the loaded file's prediction to the
// bit. A [Config.Seed] drives the validation split and row subsampling, so
// the same data and Config give the same file, byte for byte.
//
// # Data files
//
// [Table] reads CSV files with a header and JSON lines files (objects) into
// named columns, and [Table.Data] picks a label and features from them;
// [DefaultFeatures] is the rule for choosing features when none are named.
//
// # Concurrency
//
// Train runs on the calling goroutine and starts none. A [Model] is
// immutable and safe for concurrent use; a [Table] is not.
//
// This package imports only the standard library; model/tree (in tests)
// and cmd/pricestream import it.
package train

package expr

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/pricestream/pricestream/internal/table/item"
)

// TestExprDataDriven runs the scripts in testdata/eval. Regenerate the
// expected output with
//
//	go test ./internal/table/expr -run TestExprDataDriven -rewrite
//
// and review the diff. Commands:
//
//	item                 input: the item (attribute-value JSON) later commands use
//	cond | filter        input: the expression; prints true/false or the error
//	update               prints the new item or the error
//	project              prints the projected item or the error
//	keycond pk=S [sk=N]  prints the partition value and sort condition
//
// Before the expression, input lines "names: {...}" (plain JSON object)
// and "values: {...}" (attribute-value JSON object) give
// ExpressionAttributeNames and ExpressionAttributeValues.
func TestExprDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/eval", func(t *testing.T, path string) {
		var cur item.Item
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd == "item" {
				if strings.TrimSpace(d.Input) == "nil" {
					cur = nil
					return ""
				}
				it, err := item.ParseItem([]byte(d.Input), "item")
				if err != nil {
					d.Fatalf(t, "%v", err)
				}
				cur = it
				return ""
			}
			names, values, src := parseCase(t, d)
			c, err := NewCompiler(names, values)
			if err != nil {
				return errText(err)
			}
			var out string
			switch d.Cmd {
			case "cond", "filter":
				compile := c.Condition
				if d.Cmd == "filter" {
					compile = c.Filter
				}
				cond, err := compile(src)
				if err == nil {
					err = c.Done()
				}
				if err != nil {
					return errText(err)
				}
				ok, err := cond.Eval(cur)
				if err != nil {
					return errText(err)
				}
				out = fmt.Sprint(ok)
			case "update":
				u, err := c.Update(src)
				if err == nil {
					err = c.Done()
				}
				if err != nil {
					return errText(err)
				}
				before := string(cur.AppendJSON(nil))
				next, err := u.Apply(cur)
				if after := string(cur.AppendJSON(nil)); after != before {
					d.Fatalf(t, "Apply changed its input: %s -> %s", before, after)
				}
				if err != nil {
					return errText(err)
				}
				out = string(next.AppendJSON(nil))
			case "project":
				p, err := c.Projection(src)
				if err == nil {
					err = c.Done()
				}
				if err != nil {
					return errText(err)
				}
				out = string(p.Apply(cur).AppendJSON(nil))
			case "keycond":
				ks := item.KeySchema{}
				for _, arg := range d.CmdArgs {
					typ, ok := item.ParseType(arg.Vals[0])
					if !ok {
						d.Fatalf(t, "bad type %q", arg.Vals[0])
					}
					if ks.Partition.Name == "" {
						ks.Partition = item.KeyAttribute{Name: arg.Key, Type: typ}
					} else {
						ks.Sort = item.KeyAttribute{Name: arg.Key, Type: typ}
					}
				}
				kc, err := c.KeyCondition(src, ks)
				if err == nil {
					err = c.Done()
				}
				if err != nil {
					return errText(err)
				}
				out = "partition " + kc.Partition.String()
				if kc.SortOp != SortAny {
					out += fmt.Sprintf("\nsort %s %s", sortOpNames[kc.SortOp], kc.Sort)
					if kc.SortOp == SortBetween {
						out += " " + kc.SortHi.String()
					}
				}
				if cur != nil {
					out += fmt.Sprintf("\nmatch %v", kc.Match(cur))
				}
			default:
				d.Fatalf(t, "unknown command %q", d.Cmd)
			}
			return out + "\n"
		})
	})
}

var sortOpNames = map[SortOp]string{SortEQ: "=", SortLT: "<", SortLE: "<=", SortGT: ">", SortGE: ">=", SortBetween: "BETWEEN", SortBeginsWith: "begins_with"}

// parseCase splits a case's input into names, values and the expression.
func parseCase(t *testing.T, d *datadriven.TestData) (map[string]string, map[string]item.Value, string) {
	var names map[string]string
	var values map[string]item.Value
	var expr []string
	for _, line := range strings.Split(d.Input, "\n") {
		switch {
		case strings.HasPrefix(line, "names: "):
			it, err := item.ParseJSON([]byte(strings.TrimPrefix(line, "names: ")), "names")
			if err != nil {
				d.Fatalf(t, "%v", err)
			}
			names = map[string]string{}
			for k, v := range it {
				names[k] = v.S()
			}
		case strings.HasPrefix(line, "values: "):
			it, err := item.ParseItem([]byte(strings.TrimPrefix(line, "values: ")), "values")
			if err != nil {
				d.Fatalf(t, "%v", err)
			}
			values = it
		default:
			expr = append(expr, line)
		}
	}
	return names, values, strings.Join(expr, "\n")
}

// errText renders an error as the API would send it.
func errText(err error) string {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return "error: " + ve.Message() + "\n"
	}
	return "unexpected error type: " + err.Error() + "\n"
}

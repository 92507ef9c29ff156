package expr

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/table/item"
)

func mustItem(t testing.TB, s string) item.Item {
	t.Helper()
	it, err := item.ParseItem([]byte(s), "item")
	require.NoError(t, err)
	return it
}

func num(s string) item.Value { return item.NumberValue(item.MustParseNumber(s)) }

func TestExprSyntaxErrorPosition(t *testing.T) {
	values := map[string]item.Value{":a": num("1")}
	for _, tc := range []struct {
		src, token string
		pos        int
		err, msg   string
	}{
		{"price = :a AND", "<EOF>", 14,
			`expr: invalid ConditionExpression: syntax error at 14 near "<EOF>"`,
			`Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "AND", position: 14`},
		{"price = :a AND AND x = :a", "AND", 15,
			`expr: invalid ConditionExpression: syntax error at 15 near "AND"`,
			`Invalid ConditionExpression: Syntax error; token: "AND", near: "AND AND x", position: 15`},
		{"price = :a OR (x", "<EOF>", 16, "", ""},
		{"price @ :a", "@", 6, "", ""},
		{"price = :", ":", 8, "", ""},
		{"#", "#", 0, "", ""},
	} {
		_, err := CompileCondition(tc.src, nil, values)
		var ve *ValidationError
		require.True(t, errors.As(err, &ve), "%s: %v", tc.src, err)
		require.Equal(t, ConditionExpression, ve.Kind)
		require.Equal(t, tc.pos, ve.Pos, tc.src)
		require.Equal(t, tc.token, ve.Token, tc.src)
		if tc.err != "" {
			require.Equal(t, tc.err, ve.Error())
			require.Equal(t, tc.msg, ve.Message())
		}
	}
}

func TestExprCompilerParams(t *testing.T) {
	for _, tc := range []struct {
		names  map[string]string
		values map[string]item.Value
		want   string
	}{
		{map[string]string{}, nil, "ExpressionAttributeNames must not be empty"},
		{nil, map[string]item.Value{}, "ExpressionAttributeValues must not be empty"},
		{map[string]string{"n": "x"}, nil, `ExpressionAttributeNames contains invalid key: Syntax error; key: "n"`},
		{map[string]string{"#": "x"}, nil, `ExpressionAttributeNames contains invalid key: Syntax error; key: "#"`},
		{map[string]string{"#a-b": "x"}, nil, `invalid key`},
		{map[string]string{"#" + strings.Repeat("a", 255): "x"}, nil, `invalid key`},
		{map[string]string{"#e": ""}, nil, `Empty attribute name`},
		{nil, map[string]item.Value{"v": num("1")}, `ExpressionAttributeValues contains invalid key: Syntax error; key: "v"`},
		{nil, map[string]item.Value{":v": {}}, `Supplied AttributeValue is empty`},
	} {
		_, err := NewCompiler(tc.names, tc.values)
		require.ErrorContains(t, err, tc.want)
		var ve *ValidationError
		require.True(t, errors.As(err, &ve))
		require.Equal(t, Kind(0), ve.Kind)
		require.True(t, strings.HasPrefix(ve.Message(), "Expression"), ve.Message())
	}
	// Names and values used by any expression of the request count.
	c, err := NewCompiler(map[string]string{"#a": "a", "#b": "b"}, map[string]item.Value{":v": num("1"), ":w": num("2")})
	require.NoError(t, err)
	_, err = c.Projection("#a")
	require.NoError(t, err)
	_, err = c.Condition("#b = :v")
	require.NoError(t, err)
	require.ErrorContains(t, c.Done(), "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}")
	_, err = c.Update("SET x = :w")
	require.NoError(t, err)
	require.NoError(t, c.Done())
}

func TestExprLimits(t *testing.T) {
	values := map[string]item.Value{":a": num("1")}
	// 4 KB of expression is allowed, one more byte is not.
	pad := "a = :a" + strings.Repeat(" ", MaxExpressionLen-len("a = :a"))
	_, err := CompileCondition(pad, nil, values)
	require.NoError(t, err)
	_, err = CompileCondition(pad+" ", nil, values)
	require.ErrorContains(t, err, "Expression size has exceeded the maximum allowed size; expression size: 4097")

	// 300 operators are allowed, 301 are not.
	ops := func(n int) string { // n comparisons joined by n-1 ORs: 2n-1 operators
		return strings.Repeat("a<:a OR ", n-1) + "a<:a"
	}
	_, err = CompileCondition(ops(150), nil, values)
	require.NoError(t, err)
	_, err = CompileCondition(ops(151), nil, values)
	require.ErrorContains(t, err, "The expression contains too many operators; operator count: 301")
	_, err = CompileCondition(strings.Repeat("NOT ", 400)+"a<:a", nil, values)
	require.ErrorContains(t, err, "too many operators")

	// IN lists at most 100 values.
	vals := map[string]item.Value{":x": num("0")}
	var list []string
	for i := range 101 {
		k := fmt.Sprintf(":v%d", i)
		vals[k] = num(fmt.Sprint(i))
		list = append(list, k)
	}
	_, err = CompileCondition(":x IN ("+strings.Join(list[:100], ",")+")", nil, vals)
	require.ErrorContains(t, err, "unused in expressions: keys: {:v100}") // 100 allowed
	_, err = CompileCondition(":x IN ("+strings.Join(list, ",")+")", nil, vals)
	require.ErrorContains(t, err, "too many operands; operator: IN, number of operands: 101")

	// Paths nest at most 32 levels.
	deep := func(n int) string { return "a" + strings.Repeat(".a", n-1) }
	_, err = CompileProjection(deep(32), nil)
	require.NoError(t, err)
	_, err = CompileProjection(deep(33), nil)
	require.ErrorContains(t, err, "The document path has too many nesting levels; nesting levels: 33")

	// Deep nesting within 4 KB fails cleanly.
	for _, src := range []string{
		strings.Repeat("(", 2000) + "a<:a" + strings.Repeat(")", 2000),
		"a < " + strings.Repeat("f(", 1300) + "b" + strings.Repeat(")", 1300),
		"a < " + strings.Repeat("size(", 600) + "b" + strings.Repeat(")", 600),
		strings.Repeat("(", 4000),
	} {
		_, err := CompileCondition(src, nil, values)
		var ve *ValidationError
		require.True(t, errors.As(err, &ve), "%.20s: %v", src, err)
	}
}

func TestExprUpdateApplyLeavesInputAlone(t *testing.T) {
	orig := mustItem(t, `{"pk":{"S":"k"},"m":{"M":{"a":{"N":"1"},"l":{"L":[{"N":"1"},{"N":"2"}]}}},"s":{"SS":["x","y"]},"t":{"SS":["x","y"]},"n":{"N":"1"}}`)
	before, _ := orig.MarshalBinary()
	u, err := CompileUpdate("SET m.a = :v, m.l[0] = :v, m.l[5] = :v ADD n :v, s :s REMOVE m.l[1] DELETE t :d",
		nil, map[string]item.Value{":v": num("9"), ":s": must(item.StringSetValue("z")), ":d": must(item.StringSetValue("x"))})
	require.NoError(t, err)
	next, err := u.Apply(orig)
	require.NoError(t, err)
	after, _ := orig.MarshalBinary()
	require.True(t, bytes.Equal(before, after), "Apply changed its input")
	require.Equal(t, `{"m":{"M":{"a":{"N":"9"},"l":{"L":[{"N":"9"},{"N":"9"}]}}},"n":{"N":"10"},"pk":{"S":"k"},"s":{"SS":["x","y","z"]},"t":{"SS":["y"]}}`, string(next.AppendJSON(nil)))
}

func TestExprUpdateChecks(t *testing.T) {
	u, err := CompileUpdate("SET a.b = :v, c = :v REMOVE d[1]", nil, map[string]item.Value{":v": num("1")})
	require.NoError(t, err)
	require.Equal(t, []string{"a.b", "c", "d[1]"}, pathStrings(u.Paths()))
	ks := item.KeySchema{Partition: item.KeyAttribute{Name: "pk", Type: item.S}, Sort: item.KeyAttribute{Name: "c", Type: item.N}}
	err = u.CheckKey(ks)
	require.ErrorContains(t, err, "Cannot update attribute c. This attribute is part of the key")
	var ve *ValidationError
	require.True(t, errors.As(err, &ve))
	require.Equal(t, "One or more parameter values were invalid: Cannot update attribute c. This attribute is part of the key", ve.Message())
	require.NoError(t, u.CheckKey(item.KeySchema{Partition: item.KeyAttribute{Name: "pk", Type: item.S}}))

	// The projection of the written paths gives UPDATED_OLD and UPDATED_NEW.
	old := mustItem(t, `{"pk":{"S":"k"},"a":{"M":{"b":{"N":"0"},"z":{"N":"5"}}},"d":{"L":[{"N":"0"},{"N":"1"}]},"e":{"N":"1"}}`)
	next, err := u.Apply(old)
	require.NoError(t, err)
	require.Equal(t, `{"a":{"M":{"b":{"N":"0"}}},"d":{"L":[{"N":"1"}]}}`, string(u.Projection().Apply(old).AppendJSON(nil)))
	require.Equal(t, `{"a":{"M":{"b":{"N":"1"}}},"c":{"N":"1"}}`, string(u.Projection().Apply(next).AppendJSON(nil)))

	// Runtime errors are marked as such and carry DynamoDB's message alone.
	u, err = CompileUpdate("ADD a :v", nil, map[string]item.Value{":v": num("1")})
	require.NoError(t, err)
	_, err = u.Apply(mustItem(t, `{"a":{"S":"x"}}`))
	require.True(t, errors.As(err, &ve))
	require.True(t, ve.Runtime)
	require.Equal(t, "An operand in the update expression has an incorrect data type", ve.Message())
	require.Equal(t, "expr: UpdateExpression: An operand in the update expression has an incorrect data type (at 4)", ve.Error())
}

func pathStrings(ps []Path) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func must(v item.Value, err error) item.Value {
	if err != nil {
		panic(err)
	}
	return v
}

func TestExprConditionAttributes(t *testing.T) {
	c, err := CompileCondition("a.b = :v AND (size(c[1]) > :v OR contains(#n, :v)) AND NOT a = :v",
		map[string]string{"#n": "d"}, map[string]item.Value{":v": num("1")})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "c", "d"}, c.Attributes())
	require.Equal(t, "a.b = :v AND (size(c[1]) > :v OR contains(#n, :v)) AND NOT a = :v", c.String())
}

// TestExprKeyConditionBounds checks Bounds against Match: the keys whose
// ordered encoding falls in [start, end) are exactly the keys that match.
func TestExprKeyConditionBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, sortType := range []item.Type{item.N, item.S, item.B} {
		ks := item.KeySchema{Partition: item.KeyAttribute{Name: "pk", Type: item.S}, Sort: item.KeyAttribute{Name: "sk", Type: sortType}}
		randSort := func() item.Value {
			switch sortType {
			case item.N:
				return num(fmt.Sprintf("%d.%d", r.IntN(41)-20, r.IntN(10)))
			case item.S:
				return item.StringValue(string([]byte{byte('a' + r.IntN(3)), byte('a' + r.IntN(3)), 0})[:1+r.IntN(3)])
			}
			return item.BinaryValue([]byte{byte(r.IntN(3)), byte(r.IntN(256))}[:1+r.IntN(2)])
		}
		var keys []item.Item
		for _, pk := range []string{"p", "p\x00", "q", "o"} {
			for range 60 {
				keys = append(keys, item.Item{"pk": item.StringValue(pk), "sk": randSort()})
			}
		}
		exprs := []string{"pk = :p", "pk = :p AND sk = :a", "pk = :p AND sk < :a", "pk = :p AND sk <= :a",
			"pk = :p AND sk > :a", "pk = :p AND sk >= :a", "pk = :p AND sk BETWEEN :a AND :b"}
		if sortType != item.N {
			exprs = append(exprs, "pk = :p AND begins_with(sk, :a)")
		}
		for range 40 {
			a, b := randSort(), randSort()
			if c, _ := item.Compare(a, b); c > 0 {
				a, b = b, a
			}
			for _, src := range exprs {
				values := map[string]item.Value{":p": item.StringValue("p"), ":a": a, ":b": b}
				c, err := NewCompiler(nil, values)
				require.NoError(t, err)
				kc, err := c.KeyCondition(src, ks)
				require.NoError(t, err, src)
				start, end := kc.Bounds()
				for _, k := range keys {
					key, err := ks.KeyOf(k)
					require.NoError(t, err)
					enc := key.AppendOrdered(nil)
					in := bytes.Compare(enc, start) >= 0 && (end == nil || bytes.Compare(enc, end) < 0)
					require.Equal(t, kc.Match(k), in, "%s with :a=%s :b=%s on %s", src, a, b, k.AppendJSON(nil))
				}
			}
		}
	}
}

// TestExprConcurrentUse runs compiled expressions from many goroutines;
// with -race it proves them safe for concurrent use.
func TestExprConcurrentUse(t *testing.T) {
	values := map[string]item.Value{":one": num("1"), ":l": item.ListValue([]item.Value{num("1")})}
	u, err := CompileUpdate("SET price = price + :one, hist = list_append(hist, :l) ADD n :one", nil, values)
	require.NoError(t, err)
	c, err := CompileCondition("price < :p AND size(hist) > :one", nil, map[string]item.Value{":one": num("1"), ":p": num("100")})
	require.NoError(t, err)
	p, err := CompileProjection("price, hist[0]", nil)
	require.NoError(t, err)
	base := mustItem(t, `{"price":{"N":"1"},"hist":{"L":[{"N":"0"},{"N":"1"}]}}`)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			it := base
			for range 50 {
				ok, err := c.Eval(it)
				if err != nil || !ok {
					t.Errorf("eval: %v %v", ok, err)
					return
				}
				if it, err = u.Apply(it); err != nil {
					t.Error(err)
					return
				}
				_ = p.Apply(it)
			}
			if got := it["price"].N().String(); got != "51" {
				t.Errorf("price %s", got)
			}
		})
	}
	wg.Wait()
	require.Equal(t, "1", base["price"].N().String())
}

func TestExprReservedWords(t *testing.T) {
	require.Len(t, reserved, 573)
	for _, w := range []string{"name", "NAME", "Size", "status", "timestamp", "data", "value", "count", "user"} {
		require.True(t, isReserved(w), w)
	}
	for _, w := range []string{"price", "product_id", "title", "inventory"} {
		require.False(t, isReserved(w), w)
	}
	words := slices.Collect(func(yield func(string) bool) {
		for w := range reserved {
			if !yield(w) {
				return
			}
		}
	})
	slices.Sort(words)
	require.Equal(t, "ABORT", words[0])
	require.Equal(t, "ZONE", words[len(words)-1])
}

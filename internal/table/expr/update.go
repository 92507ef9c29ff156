package expr

import (
	"errors"

	"github.com/pricestream/pricestream/internal/table/item"
)

// Update is a compiled UpdateExpression. It is immutable and safe for
// concurrent use.
type Update struct {
	src     string
	actions []*action
	sets    []int // indexes of the SET actions, in order
	tree    *trie // the target paths, for one walk over the item
}

// Update compiles an UpdateExpression.
func (c *Compiler) Update(src string) (*Update, error) {
	const kind = UpdateExpression
	p, err := newParser(kind, src)
	if err != nil {
		return nil, err
	}
	actions, err := p.parseUpdate()
	if err != nil {
		return nil, err
	}
	u := &Update{src: src, actions: actions, tree: newTrie()}
	paths := make([]Path, len(actions))
	positions := make([]int, len(actions))
	for i, a := range actions {
		if a.path, err = c.resolvePath(kind, a.segs); err != nil {
			return nil, err
		}
		paths[i], positions[i] = a.path, a.pos
		switch a.kind {
		case aSet:
			if err := c.setValue(kind, a.value, &p.ops); err != nil {
				return nil, err
			}
			a.slot = len(u.sets)
			u.sets = append(u.sets, i)
		case aAdd:
			if err := c.resolveValue(kind, a.value); err != nil {
				return nil, err
			}
			if t := a.value.val.Type(); t != item.N && !t.IsSet() {
				return nil, &ValidationError{Kind: kind, Pos: a.value.pos, Msg: "Incorrect operand type for operator or function; operator: ADD, operand type: " + longTypeName(t)}
			}
		case aDelete:
			if err := c.resolveValue(kind, a.value); err != nil {
				return nil, err
			}
			if t := a.value.val.Type(); !t.IsSet() {
				return nil, &ValidationError{Kind: kind, Pos: a.value.pos, Msg: "Incorrect operand type for operator or function; operator: DELETE, operand type: " + longTypeName(t)}
			}
		}
	}
	if p.ops > MaxOperators {
		return nil, &ValidationError{Kind: kind, Pos: -1, Msg: "The expression contains too many operators; operator count: " + itoa(p.ops)}
	}
	if err := checkOverlap(kind, paths, positions); err != nil {
		return nil, err
	}
	for i, pth := range paths {
		u.tree.add(pth, i)
	}
	return u, nil
}

// CompileUpdate compiles a lone UpdateExpression with its names and values,
// including the check that all of them are used.
func CompileUpdate(src string, names map[string]string, values map[string]item.Value) (*Update, error) {
	c, err := NewCompiler(names, values)
	if err != nil {
		return nil, err
	}
	u, err := c.Update(src)
	if err != nil {
		return nil, err
	}
	return u, c.Done()
}

func longTypeName(t item.Type) string {
	switch t {
	case item.S:
		return "STRING"
	case item.N:
		return "NUMBER"
	case item.B:
		return "BINARY"
	case item.BOOL:
		return "BOOLEAN"
	case item.L:
		return "LIST"
	case item.M:
		return "MAP"
	case item.SS:
		return "STRING_SET"
	case item.NS:
		return "NUMBER_SET"
	case item.BS:
		return "BINARY_SET"
	}
	return t.String()
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[n:])
		}
	}
}

// setValue compiles the value of a SET action: an operand, or the sum or
// difference of two, where functions if_not_exists and list_append may
// appear.
func (c *Compiler) setValue(kind Kind, o *operand, ops *int) error {
	if o.kind == oArith {
		for _, a := range o.args {
			if err := c.setOperand(kind, a, ops, false); err != nil {
				return err
			}
			if t := a.staticType(); t != item.Invalid && t != item.N {
				return errOperandType(kind, a.pos, o.text, t)
			}
		}
		return nil
	}
	return c.setOperand(kind, o, ops, false)
}

func (c *Compiler) setOperand(kind Kind, o *operand, ops *int, inListAppend bool) error {
	switch o.kind {
	case oPath:
		p, err := c.resolvePath(kind, o.segs)
		o.path = p
		return err
	case oValue:
		return c.resolveValue(kind, o)
	case oCall:
		*ops++
		fn, err := checkCall(kind, o.pos, o.text, len(o.args), fnIfNotExists, fnListAppend)
		if err != nil {
			return err
		}
		if fn == fnListAppend && inListAppend {
			return &ValidationError{Kind: kind, Pos: o.pos, Token: o.text, Msg: "The function is not allowed to be used this way in an expression; function: list_append"}
		}
		o.fn = fn
		switch fn {
		case fnIfNotExists:
			if o.args[0].kind != oPath {
				if o.args[0].kind == oValue {
					// DynamoDB looks the value up before it notices that
					// it needs a path.
					if err := c.resolveValue(kind, o.args[0]); err != nil {
						return err
					}
				}
				return errNeedsPath(kind, o.args[0].pos, "if_not_exists")
			}
			if err := c.setOperand(kind, o.args[0], ops, false); err != nil {
				return err
			}
			return c.setOperand(kind, o.args[1], ops, false)
		case fnListAppend:
			for _, a := range o.args {
				if err := c.setOperand(kind, a, ops, true); err != nil {
					return err
				}
				if t := a.staticType(); t != item.Invalid && t != item.L {
					return errOperandType(kind, a.pos, "list_append", t)
				}
			}
		}
		return nil
	}
	return &ValidationError{Kind: kind, Pos: o.pos, Msg: "unexpected operand"}
}

// String returns the expression as written.
func (u *Update) String() string { return u.src }

// Paths returns the paths the update writes (SET, REMOVE, ADD and DELETE
// targets), in the order written.
func (u *Update) Paths() []Path {
	out := make([]Path, len(u.actions))
	for i, a := range u.actions {
		out[i] = a.path
	}
	return out
}

// CheckKey refuses an update that writes a key attribute of ks, as
// DynamoDB does before reading the item.
func (u *Update) CheckKey(ks item.KeySchema) error {
	for _, a := range u.actions {
		if ks.IsKey(a.path[0].Name) {
			return &ValidationError{Kind: UpdateExpression, Pos: a.pos, Runtime: true,
				Msg: "One or more parameter values were invalid: Cannot update attribute " + a.path[0].Name + ". This attribute is part of the key"}
		}
	}
	return nil
}

// Projection returns the projection of the paths the update writes, which
// gives the UPDATED_OLD and UPDATED_NEW return values when applied to the
// item before and after the update.
func (u *Update) Projection() *Projection {
	return &Projection{paths: u.Paths(), tree: u.tree}
}

// Runtime errors of updates, in DynamoDB's words.
const (
	msgMissingOperand = "The provided expression refers to an attribute that does not exist in the item"
	msgBadPath        = "The document path provided in the update expression is invalid for update"
	msgOperandType    = "An operand in the update expression has an incorrect data type"
)

// msgOf returns the message of an item error.
func msgOf(err error) string {
	var ve *item.ValidationError
	if errors.As(err, &ve) {
		return ve.Msg
	}
	return err.Error()
}

func runtimeErr(pos int, msg string) error {
	return &ValidationError{Kind: UpdateExpression, Pos: pos, Runtime: true, Msg: msg}
}

// Apply applies the update to an item and returns the new item; it, which
// may be nil for a missing item, is left untouched, and the result shares
// the values that did not change. As in DynamoDB:
//
//   - every value on the right of SET is read from the item as it was
//     before the update, so "SET a = b, b = a" swaps;
//   - list indexes refer to positions before the update: "REMOVE a[1], a[3]"
//     removes two original elements, and SET to an index past the end
//     appends, in index order;
//   - SET a.b needs a to be a map (and a[1] a list); otherwise the update
//     fails, as does REMOVE a.b, while REMOVE of a missing leaf does
//     nothing;
//   - ADD to a missing attribute sets it; ADD adds numbers or joins sets of
//     one type; DELETE removes members from a set and the attribute with
//     its last member, and does nothing to a missing attribute.
//
// The result is not checked against the 400 KB limit or the key schema:
// the caller validates the new item (item.Item.Validate,
// item.KeySchema.KeyOf).
func (u *Update) Apply(it item.Item) (item.Item, error) {
	// Read first: the new values of SET, from the old item.
	var buf [8]item.Value
	vals := buf[:0]
	if len(u.sets) > len(buf) {
		vals = make([]item.Value, 0, len(u.sets))
	}
	for _, i := range u.sets {
		v, err := evalSet(u.actions[i].value, it)
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
	}
	// Then write, in one walk of the target tree.
	out := make(item.Item, len(it)+len(u.actions))
	for k, v := range it {
		out[k] = v
	}
	for name, child := range u.tree.names {
		old, exists := it[name]
		v, ok, err := u.applyNode(child, old, exists, vals)
		if err != nil {
			return nil, err
		}
		if ok {
			out[name] = v
		} else {
			delete(out, name)
		}
	}
	return out, nil
}

// applyNode applies the actions below node n to the value v (exists says
// whether there is one) and returns the new value and whether it exists.
func (u *Update) applyNode(n *trie, v item.Value, exists bool, vals []item.Value) (item.Value, bool, error) {
	if n.leaf >= 0 {
		return u.applyLeaf(u.actions[n.leaf], v, exists, vals)
	}
	if n.names != nil {
		if !exists || v.Type() != item.M {
			return item.Value{}, false, runtimeErr(u.firstPos(n), msgBadPath)
		}
		old := v.M()
		m := make(map[string]item.Value, len(old)+len(n.names))
		for k, e := range old {
			m[k] = e
		}
		for name, child := range n.names {
			e, eok := old[name]
			nv, ok, err := u.applyNode(child, e, eok, vals)
			if err != nil {
				return item.Value{}, false, err
			}
			if ok {
				m[name] = nv
			} else {
				delete(m, name)
			}
		}
		return item.MapValue(m), true, nil
	}
	// List elements, by their positions before the update.
	if !exists || v.Type() != item.L {
		return item.Value{}, false, runtimeErr(u.firstPos(n), msgBadPath)
	}
	old := v.L()
	list := make([]item.Value, len(old), len(old)+len(n.indexes))
	copy(list, old)
	removed := make([]bool, len(old))
	var appended []item.Value
	for _, c := range n.indexes {
		if c.index < len(old) {
			nv, ok, err := u.applyNode(c.node, old[c.index], true, vals)
			if err != nil {
				return item.Value{}, false, err
			}
			if ok {
				list[c.index] = nv
			} else {
				removed[c.index] = true
			}
			continue
		}
		// Past the end: a leaf may append; a deeper path is invalid.
		if c.node.leaf < 0 {
			return item.Value{}, false, runtimeErr(u.firstPos(c.node), msgBadPath)
		}
		nv, ok, err := u.applyLeaf(u.actions[c.node.leaf], item.Value{}, false, vals)
		if err != nil {
			return item.Value{}, false, err
		}
		if ok {
			appended = append(appended, nv)
		}
	}
	out := list[:0]
	for i, e := range list {
		if !removed[i] {
			out = append(out, e)
		}
	}
	out = append(out, appended...)
	return item.ListValue(out), true, nil
}

// firstPos returns the position of an action below n, for messages.
func (u *Update) firstPos(n *trie) int {
	for n.leaf < 0 {
		switch {
		case len(n.indexes) > 0:
			n = n.indexes[0].node
		default:
			for _, c := range n.names {
				n = c
				break
			}
		}
	}
	return u.actions[n.leaf].pos
}

func (u *Update) applyLeaf(a *action, v item.Value, exists bool, vals []item.Value) (item.Value, bool, error) {
	switch a.kind {
	case aSet:
		return vals[a.slot], true, nil
	case aRemove:
		return item.Value{}, false, nil
	case aAdd:
		x := a.value.val
		if !exists {
			return x, true, nil
		}
		if v.Type() == item.N && x.Type() == item.N {
			sum, err := v.N().Add(x.N())
			if err != nil {
				return item.Value{}, false, runtimeErr(a.pos, msgOf(err))
			}
			return item.NumberValue(sum), true, nil
		}
		if u, ok := item.SetUnion(v, x); ok {
			return u, true, nil
		}
		return item.Value{}, false, runtimeErr(a.pos, msgOperandType)
	case aDelete:
		if !exists {
			return item.Value{}, false, nil
		}
		d, ok := item.SetDifference(v, a.value.val)
		if !ok {
			return item.Value{}, false, runtimeErr(a.pos, msgOperandType)
		}
		return d, d.IsValid(), nil
	}
	return item.Value{}, false, nil
}

// evalSet computes the new value of a SET action from the old item.
func evalSet(o *operand, it item.Item) (item.Value, error) {
	switch o.kind {
	case oPath:
		v, ok := o.path.Get(it)
		if !ok {
			return item.Value{}, runtimeErr(o.pos, msgMissingOperand)
		}
		return v, nil
	case oValue:
		return o.val, nil
	case oArith:
		x, err := evalSet(o.args[0], it)
		if err != nil {
			return item.Value{}, err
		}
		y, err := evalSet(o.args[1], it)
		if err != nil {
			return item.Value{}, err
		}
		if x.Type() != item.N || y.Type() != item.N {
			return item.Value{}, runtimeErr(o.pos, msgOperandType)
		}
		var r item.Number
		if o.minus {
			r, err = x.N().Sub(y.N())
		} else {
			r, err = x.N().Add(y.N())
		}
		if err != nil {
			return item.Value{}, runtimeErr(o.pos, msgOf(err))
		}
		return item.NumberValue(r), nil
	case oCall:
		switch o.fn {
		case fnIfNotExists:
			if v, ok := o.args[0].path.Get(it); ok {
				return v, nil
			}
			return evalSet(o.args[1], it)
		case fnListAppend:
			x, err := evalSet(o.args[0], it)
			if err != nil {
				return item.Value{}, err
			}
			y, err := evalSet(o.args[1], it)
			if err != nil {
				return item.Value{}, err
			}
			if x.Type() != item.L || y.Type() != item.L {
				return item.Value{}, runtimeErr(o.pos, msgOperandType)
			}
			l := make([]item.Value, 0, len(x.L())+len(y.L()))
			l = append(l, x.L()...)
			l = append(l, y.L()...)
			return item.ListValue(l), nil
		}
	}
	return item.Value{}, runtimeErr(o.pos, "unexpected operand")
}

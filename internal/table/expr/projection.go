package expr

import (
	"github.com/pricestream/pricestream/internal/table/item"
)

// Projection is a compiled ProjectionExpression: the document paths to
// return. It is immutable and safe for concurrent use.
type Projection struct {
	src   string
	paths []Path
	tree  *trie
}

// Projection compiles a ProjectionExpression. Paths may not overlap (a and
// a.b) or conflict (a.b and a[1]), as in DynamoDB.
func (c *Compiler) Projection(src string) (*Projection, error) {
	const kind = ProjectionExpression
	p, err := newParser(kind, src)
	if err != nil {
		return nil, err
	}
	raw, positions, err := p.parseProjection()
	if err != nil {
		return nil, err
	}
	pr := &Projection{src: src, paths: make([]Path, len(raw)), tree: newTrie()}
	for i, segs := range raw {
		if pr.paths[i], err = c.resolvePath(kind, segs); err != nil {
			return nil, err
		}
	}
	if err := checkOverlap(kind, pr.paths, positions); err != nil {
		return nil, err
	}
	for i, pth := range pr.paths {
		pr.tree.add(pth, i)
	}
	return pr, nil
}

// CompileProjection compiles a lone ProjectionExpression with its names,
// including the check that all of them are used.
func CompileProjection(src string, names map[string]string) (*Projection, error) {
	c, err := NewCompiler(names, nil)
	if err != nil {
		return nil, err
	}
	p, err := c.Projection(src)
	if err != nil {
		return nil, err
	}
	return p, c.Done()
}

// String returns the expression as written.
func (p *Projection) String() string { return p.src }

// Paths returns the projected paths, in the order written.
func (p *Projection) Paths() []Path { return p.paths }

// Apply returns the parts of it that the projection selects, in the shape
// of the original: a.b gives {a: {b: ...}}, and a[2], a[0] give {a: [a[0],
// a[2]]} (list elements keep their order, not their indexes). Paths that
// lead nowhere are left out, so the result may be empty; a nil item gives
// nil. The result shares values with it.
func (p *Projection) Apply(it item.Item) item.Item {
	if it == nil {
		return nil
	}
	out := make(item.Item, len(p.tree.names))
	for name, child := range p.tree.names {
		v, ok := it[name]
		if !ok {
			continue
		}
		if pv, ok := project(child, v); ok {
			out[name] = pv
		}
	}
	return out
}

func project(n *trie, v item.Value) (item.Value, bool) {
	if n.leaf >= 0 {
		return v, true
	}
	if n.names != nil {
		if v.Type() != item.M {
			return item.Value{}, false
		}
		src := v.M()
		m := make(map[string]item.Value, len(n.names))
		for name, child := range n.names {
			e, ok := src[name]
			if !ok {
				continue
			}
			if pv, ok := project(child, e); ok {
				m[name] = pv
			}
		}
		if len(m) == 0 {
			return item.Value{}, false
		}
		return item.MapValue(m), true
	}
	if v.Type() != item.L {
		return item.Value{}, false
	}
	src := v.L()
	var l []item.Value
	for _, c := range n.indexes {
		if c.index >= len(src) {
			continue
		}
		if pv, ok := project(c.node, src[c.index]); ok {
			l = append(l, pv)
		}
	}
	if len(l) == 0 {
		return item.Value{}, false
	}
	return item.ListValue(l), true
}

package expr

import (
	"strconv"
	"strings"

	"github.com/pricestream/pricestream/internal/table/item"
)

// PathElem is one step of a document path: a map member or top-level
// attribute by Name, or a list element by Index when Name is "". (Names
// are never empty: DynamoDB refuses empty attribute names.)
type PathElem struct {
	Name  string
	Index int
}

// IsIndex reports whether the step is a list index.
func (e PathElem) IsIndex() bool { return e.Name == "" }

// Path is a document path such as a.b[2].c, with ExpressionAttributeNames
// placeholders already replaced by the names they stand for.
type Path []PathElem

// String renders the path as an expression would write it, without
// placeholders: a.b[2].c. Names are written as they are, so a name holding
// a dot renders ambiguously; use it for messages only.
func (p Path) String() string {
	var sb strings.Builder
	for i, e := range p {
		if e.IsIndex() {
			sb.WriteByte('[')
			sb.WriteString(strconv.Itoa(e.Index))
			sb.WriteByte(']')
			continue
		}
		if i > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(e.Name)
	}
	return sb.String()
}

// dynamoString renders the path as DynamoDB does in messages: [a, b, [2]].
func (p Path) dynamoString() string {
	var sb strings.Builder
	sb.WriteByte('[')
	for i, e := range p {
		if i > 0 {
			sb.WriteString(", ")
		}
		if e.IsIndex() {
			sb.WriteByte('[')
			sb.WriteString(strconv.Itoa(e.Index))
			sb.WriteByte(']')
		} else {
			sb.WriteString(e.Name)
		}
	}
	sb.WriteByte(']')
	return sb.String()
}

// Get returns the value at p in it, and false when there is none (a
// missing attribute or member, an index past the end, or a step into a
// value of the wrong type).
func (p Path) Get(it item.Item) (item.Value, bool) {
	if len(p) == 0 {
		return item.Value{}, false
	}
	v, ok := it[p[0].Name]
	if !ok {
		return item.Value{}, false
	}
	for _, e := range p[1:] {
		if e.IsIndex() {
			l := v.L()
			if v.Type() != item.L || e.Index >= len(l) {
				return item.Value{}, false
			}
			v = l[e.Index]
			continue
		}
		if v.Type() != item.M {
			return item.Value{}, false
		}
		if v, ok = v.M()[e.Name]; !ok {
			return item.Value{}, false
		}
	}
	return v, true
}

// checkOverlap refuses two paths of which one is a prefix of the other
// ("overlap"), or which part where one continues with a name and the other
// with an index ("conflict"), with DynamoDB's messages. Updates and
// projections may not name such paths together.
func checkOverlap(kind Kind, paths []Path, positions []int) error {
	for i := range paths {
		for j := 0; j < i; j++ {
			a, b := paths[j], paths[i]
			n := min(len(a), len(b))
			k := 0
			for k < n && a[k] == b[k] {
				k++
			}
			switch {
			case k == n:
				return &ValidationError{Kind: kind, Pos: positions[i],
					Msg: "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: " + a.dynamoString() + ", path two: " + b.dynamoString()}
			case a[k].IsIndex() != b[k].IsIndex():
				return &ValidationError{Kind: kind, Pos: positions[i],
					Msg: "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: " + a.dynamoString() + ", path two: " + b.dynamoString()}
			}
		}
	}
	return nil
}

// trie is the shape of a set of non-overlapping, non-conflicting paths, for
// applying an update or a projection in one walk: each node is either a
// leaf (the end of one path, leaf >= 0) or has children by name or by
// index, never both.
type trie struct {
	leaf    int // index of the path ending here, or -1
	names   map[string]*trie
	indexes []indexChild // ascending by index
}

type indexChild struct {
	index int
	node  *trie
}

func newTrie() *trie { return &trie{leaf: -1} }

// add inserts path number n. The paths must have passed checkOverlap.
func (t *trie) add(p Path, n int) {
	node := t
	for _, e := range p {
		var next *trie
		if e.IsIndex() {
			i := 0
			for i < len(node.indexes) && node.indexes[i].index < e.Index {
				i++
			}
			if i < len(node.indexes) && node.indexes[i].index == e.Index {
				next = node.indexes[i].node
			} else {
				next = newTrie()
				node.indexes = append(node.indexes, indexChild{})
				copy(node.indexes[i+1:], node.indexes[i:])
				node.indexes[i] = indexChild{e.Index, next}
			}
		} else {
			if node.names == nil {
				node.names = map[string]*trie{}
			}
			if next = node.names[e.Name]; next == nil {
				next = newTrie()
				node.names[e.Name] = next
			}
		}
		node = next
	}
	node.leaf = n
}

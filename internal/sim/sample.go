package sim

// aliasTable draws an index with probability proportional to its weight
// in constant time (Vose's alias method): slot j of n is taken with
// probability prob, else its alias.
type aliasTable []aliasSlot

type aliasSlot struct {
	prob  float64
	alias int32
}

// newAliasTable builds the table of positive weights in O(n).
func newAliasTable(weights []float64) aliasTable {
	n := len(weights)
	sum := 0.0
	for _, v := range weights {
		sum += v
	}
	t := make(aliasTable, n)
	scaled := make([]float64, n)
	var small, large []int32
	for i, v := range weights {
		scaled[i] = v * float64(n) / sum
		if scaled[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		t[s] = aliasSlot{prob: scaled[s], alias: l}
		scaled[l] += scaled[s] - 1
		if scaled[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	// What is left is 1 up to rounding: its slots keep their own index.
	for _, i := range append(small, large...) {
		t[i] = aliasSlot{prob: 1, alias: i}
	}
	return t
}

// pick returns the index for a uniform u in [0, 1). One draw serves both
// the slot (u's integer part scaled by n) and the coin (its fraction):
// for n up to a million the fraction keeps 33 of u's 53 random bits.
func (t aliasTable) pick(u float64) int {
	x := u * float64(len(t))
	j := min(int(x), len(t)-1)
	if s := t[j]; x-float64(j) >= s.prob {
		return int(s.alias)
	}
	return j
}

// fifo is a first-in, first-out queue whose pops are O(1) and whose
// storage is reused: the popped front is dropped when it is at least half
// the slice and the slice is full, so each element moves at most once per
// doubling (amortised O(1) per push).
type fifo[T any] struct {
	s    []T
	head int
}

func (q *fifo[T]) push(v T) {
	if len(q.s) == cap(q.s) && q.head > 0 && 2*q.head >= len(q.s) {
		n := copy(q.s, q.s[q.head:])
		clear(q.s[n:]) // let go of what the popped elements point to
		q.s, q.head = q.s[:n], 0
	}
	q.s = append(q.s, v)
}

// items returns the queued elements, oldest first; the slice is the
// queue's.
func (q *fifo[T]) items() []T { return q.s[q.head:] }

// drop pops the n oldest elements.
func (q *fifo[T]) drop(n int) { q.head += n }

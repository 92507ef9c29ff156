package stream

// SetTestHookTipEmpty makes Tip call f after it found a partition empty,
// before it reads the stream's last sequence, until the returned function
// restores it.
func SetTestHookTipEmpty(f func()) (restore func()) {
	testHookTipEmpty.Store(&f)
	return func() { testHookTipEmpty.Store(nil) }
}

package table

// Buffered reports how many changes s has read ahead of its reader.
func Buffered(s *Subscription) int { return len(s.ch) }

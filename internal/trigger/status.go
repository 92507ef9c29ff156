package trigger

import (
	"context"
	"time"
)

// Status is a trigger's definition and how it runs: its state in this
// process, and per partition its checkpoint, lag and counters.
type Status struct {
	Definition
	// State is running, starting, error (see Error), disabled, or
	// not_running (enabled, but no runner in this process: the manager is
	// not running or another process holds the partitions).
	State      string            `json:"state"`
	Error      string            `json:"error,omitempty"`
	Partitions []PartitionStatus `json:"partitions,omitempty"`
}

// PartitionStatus is one partition of a trigger.
type PartitionStatus struct {
	Partition int    `json:"partition"`
	State     string `json:"state"`
	Error     string `json:"error,omitempty"`
	// Owner is the process that holds the partition's lease (runs it), and
	// LeaseExpires when the lease ends unless renewed.
	Owner        string    `json:"owner,omitempty"`
	LeaseExpires time.Time `json:"lease_expires,omitzero"`
	// Checkpoint is the last record before the oldest one the trigger is
	// not done with.
	Checkpoint *Checkpoint `json:"checkpoint,omitempty"`
	// LagRecords counts the records stored after the checkpoint;
	// LagMillis is the arrival time of the newest record minus that of the
	// checkpoint's record.
	LagRecords uint64 `json:"lag_records"`
	LagMillis  int64  `json:"lag_millis"`
	// IteratorAgeMillis is how old the last record processed was when it
	// was done (Lambda's IteratorAge).
	IteratorAgeMillis int64 `json:"iterator_age_millis"`
	// Counters since this process started the partition.
	Read        int64 `json:"read"`
	Processed   int64 `json:"processed"`
	Filtered    int64 `json:"filtered"`
	Failed      int64 `json:"failed"`
	Invocations int64 `json:"invocations"`
	Errors      int64 `json:"errors"`
}

// Describe returns a trigger's status. Checkpoints and lag come from the
// engine, so they are right whichever process runs the trigger; states and
// counters are those of this process.
func (m *Manager) Describe(ctx context.Context, name string) (*Status, error) {
	d, err := m.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	st := &Status{Definition: *d, State: "not_running"}
	if !d.Spec.IsEnabled() {
		st.State = "disabled"
	}
	m.mu.Lock()
	tr := m.mu.running[name]
	m.mu.Unlock()
	var runners []*runner
	if tr != nil && tr.def.Revision == d.Revision {
		tr.mu.Lock()
		st.State, st.Error, runners = tr.mu.state, tr.mu.err, tr.mu.runners
		tr.mu.Unlock()
	}
	ref, _ := ParseSource(d.Spec.Source)
	src, err := m.deps.Sources.OpenSource(ctx, ref)
	if err != nil {
		if st.Error == "" {
			st.Error = err.Error()
		}
		return st, nil
	}
	_, cps, err := m.buckets(ctx)
	if err != nil {
		return nil, err
	}
	tipper, _ := src.(Tipper)
	for p := range src.Partitions() {
		ps := PartitionStatus{Partition: p, State: st.State}
		if p < len(runners) {
			r := runners[p]
			r.status.mu.Lock()
			ps.State, ps.Error = r.status.mu.state, r.status.mu.err
			r.status.mu.Unlock()
			ps.Read, ps.Processed, ps.Filtered, ps.Failed = r.status.read.Load(), r.status.processed.Load(), r.status.filtered.Load(), r.status.failed.Load()
			ps.Invocations, ps.Errors = r.status.invocations.Load(), r.status.errors.Load()
			ps.IteratorAgeMillis = time.Duration(r.status.lastAge.Load()).Milliseconds()
			ps.Checkpoint = r.status.checkpoint.Load()
		}
		ps.Owner, ps.LeaseExpires = m.lease.holder(ctx, cpKey(name, p))
		if ps.Checkpoint == nil {
			cp, ok, err := cps.get(ctx, name, p)
			if err != nil {
				return nil, err
			}
			if ok && cp.Source == d.Spec.Source && cp.Generation == d.Created.UnixNano() {
				ps.Checkpoint = &cp
			}
		}
		if tipper != nil {
			records, last, err := tipper.Tip(ctx, p)
			if err == nil {
				var done uint64
				var from time.Time
				if ps.Checkpoint != nil {
					done, from = ps.Checkpoint.Offset+1, ps.Checkpoint.Arrival
				}
				if records > done {
					ps.LagRecords = records - done
					if !from.IsZero() {
						ps.LagMillis = max(0, last.Sub(from).Milliseconds())
					}
				}
			}
		}
		st.Partitions = append(st.Partitions, ps)
	}
	return st, nil
}

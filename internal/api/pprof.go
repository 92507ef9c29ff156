package api

import "net/http/pprof"

// routePprof serves the runtime's profiles under /debug/pprof/ (the admin
// scope, as every route authz.go does not name). /debug/pprof/{name}
// serves the named profiles: heap, allocs, goroutine, block, mutex,
// threadcreate.
func (s *Server) routePprof() {
	s.mux.HandleFunc("GET /debug/pprof/{$}", pprof.Index)
	s.mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	s.mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	s.mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	s.mux.HandleFunc("GET /debug/pprof/{name}", pprof.Index)
}

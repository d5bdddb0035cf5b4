// Package metrics holds stellad's Prometheus metrics: one registry per daemon,
// no global state, so tests can build as many as they like.
//
// The names are part of the operator's contract (dashboards, alerts):
//
//	stellad_sign_seconds{outcome}                 histogram of signing requests, decode to answer
//	stellad_decisions_total{action,decision,reason} admission decisions (auth failures, PoE, quotas, scanner)
//	stellad_key_signatures_total{key_uri}         signatures made per key
//	attestor_submission_total{outcome}            envelopes submitted for logging
//	attestor_verify_seconds                       time spent verifying submitted envelopes
//	stellad_log_appends_total{outcome}            leaves appended to the transparency log
//	stellad_timestamps_total{outcome}             RFC 3161 timestamps granted or refused
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the daemon's set of collectors. A nil *Metrics is valid and
// records nothing, so components can take one optionally. Safe for concurrent use.
type Metrics struct {
	reg         *prometheus.Registry
	signSeconds *prometheus.HistogramVec
	decisions   *prometheus.CounterVec
	keyUse      *prometheus.CounterVec
	submissions *prometheus.CounterVec
	verify      prometheus.Histogram
	appends     *prometheus.CounterVec
	timestamps  *prometheus.CounterVec
}

// New returns a registry with stellad's collectors and Go's runtime and process
// collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		signSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stellad_sign_seconds",
			Help:    "Latency of signing requests, from admission to the bundle with its inclusion proof.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"outcome"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stellad_decisions_total",
			Help: "Admission decisions by action, decision (allow or deny) and reason code.",
		}, []string{"action", "decision", "reason"}),
		keyUse: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stellad_key_signatures_total",
			Help: "Signatures made, by key URI.",
		}, []string{"key_uri"}),
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "attestor_submission_total",
			Help: "Envelopes submitted for logging, by outcome.",
		}, []string{"outcome"}),
		verify: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "attestor_verify_seconds",
			Help:    "Time spent verifying the signatures of submitted envelopes.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
		}),
		appends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stellad_log_appends_total",
			Help: "Leaves appended to the transparency log, by outcome.",
		}, []string{"outcome"}),
		timestamps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stellad_timestamps_total",
			Help: "RFC 3161 timestamp requests answered, by outcome (granted, an RFC 3161 failure info, or system_failure).",
		}, []string{"outcome"}),
	}
	m.reg.MustRegister(m.signSeconds, m.decisions, m.keyUse, m.submissions, m.verify, m.appends, m.timestamps,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry returns the registry, for tests and for extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Sign records one signing request's latency; outcome is "ok" or an error code.
func (m *Metrics) Sign(outcome string, d time.Duration) {
	if m != nil {
		m.signSeconds.WithLabelValues(outcome).Observe(d.Seconds())
	}
}

// Decision counts one admission decision.
func (m *Metrics) Decision(action, decision, reason string) {
	if m != nil {
		m.decisions.WithLabelValues(action, decision, reason).Inc()
	}
}

// KeyUsed counts one signature by the key named uri.
func (m *Metrics) KeyUsed(uri string) {
	if m != nil {
		m.keyUse.WithLabelValues(uri).Inc()
	}
}

// Submission counts one submitted envelope; outcome is "logged", "duplicate" or an error code.
func (m *Metrics) Submission(outcome string) {
	if m != nil {
		m.submissions.WithLabelValues(outcome).Inc()
	}
}

// Verified records the time spent verifying one submitted envelope.
func (m *Metrics) Verified(d time.Duration) {
	if m != nil {
		m.verify.Observe(d.Seconds())
	}
}

// Appended counts one leaf appended to the log; outcome is "ok" or "error".
func (m *Metrics) Appended(outcome string) {
	if m != nil {
		m.appends.WithLabelValues(outcome).Inc()
	}
}

// Timestamp counts one answered timestamp request; outcome is "granted", the
// RFC 3161 failure info of a rejection (e.g. "badAlg") or "system_failure".
func (m *Metrics) Timestamp(outcome string) {
	if m != nil {
		m.timestamps.WithLabelValues(outcome).Inc()
	}
}

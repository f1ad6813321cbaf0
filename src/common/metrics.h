#pragma once
// Process-wide counters and gauges, rendered in Prometheus' text format at
// the gateway's /_cleave/metrics. A metric is created once by name and kept
// for the life of the process; updating one is a relaxed atomic add, cheap
// enough for hot paths.
//
//   static auto& reads = metrics::counter("cleave_chunk_store_reads_total",
//                                         "Chunks read from the local chunk store");
//   reads.add();

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace cleave::metrics {

class Counter {
  public:
    void add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
    uint64_t value() const { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<uint64_t> value_{0};
};

class Gauge {
  public:
    void set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
    void add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
    int64_t value() const { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<int64_t> value_{0};
};

// The metric named `name` (created on first use; the help text of the first
// call wins). Names follow Prometheus rules: [a-zA-Z_:][a-zA-Z0-9_:]*.
Counter& counter(std::string_view name, std::string_view help);
Gauge& gauge(std::string_view name, std::string_view help);

// Every metric, in name order, as Prometheus text exposition format.
std::string render_prometheus();

}  // namespace cleave::metrics

-- wrk report script for bench/load.py: at the end of a run, one line starting with "TBLOAD "
-- holding a JSON object: requests, duration (us), bytes, errors, and latency percentiles (us)
-- including p95, which wrk's own --latency table does not give.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'TBLOAD {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, ' ..
    '"p50": %d, "p75": %d, "p90": %d, "p95": %d, "p99": %d, "max": %d, "mean": %.1f, "stdev": %.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50.0), latency:percentile(75.0), latency:percentile(90.0),
    latency:percentile(95.0), latency:percentile(99.0), latency.max, latency.mean, latency.stdev))
end

-- wrk script: POST the benchmark body with its precomputed signature.
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Signature"] = os.getenv("BENCH_SIGNATURE")

-- wrk counts answers with status >= 400 in summary.errors.status; print it so that the
-- benchmark can refuse figures that measured errors rather than work.
done = function(summary, latency, requests)
  io.write(string.format("non2xx=%d\n", summary.errors.status))
end

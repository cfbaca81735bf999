#!/usr/bin/env bash
# Markdown tables from a results directory's summary.tsv (written by run.sh or peers.sh).
# Understands both bh_load's RESULT keys and the peers' loadgen keys.
#
#   bench/stream/report.sh bench/results/<stamp>
#
# summary.tsv columns: server, test, rep, loadgen, load1 (1-min load average before the point),
# server status (ok | died=N | exit=N | hung | start_failed), RESULT line.
set -euo pipefail
dir=${1:?usage: report.sh RESULTS_DIR}
[ -f "$dir/summary.tsv" ] || { echo "no $dir/summary.tsv" >&2; exit 1; }
[ -f "$dir/env.txt" ] && sed 's/^/    /' "$dir/env.txt" && echo

awk -F'\t' '
function kv(line,   n, i, a, p) {
  delete R
  n = split(line, a, " ")
  for (i = 2; i <= n; i++) { p = index(a[i], "="); if (p) R[substr(a[i], 1, p - 1)] = substr(a[i], p + 1) }
}
function pick(a, b) { return (a in R) ? R[a] : ((b in R) ? R[b] : "") }
function us2ms(k,   v) { if (!(k in R) || R[k] == "" || R[k] == "nan") return ""; v = R[k] / 1000;
  return v >= 100 ? sprintf("%.0f", v) : (v >= 10 ? sprintf("%.1f", v) : sprintf("%.2f", v)) }
function big(v) { if (v == "" || v == "na") return v; v += 0; if (v >= 1e6) return sprintf("%.2fM", v / 1e6);
  if (v >= 1e4) return sprintf("%.0fk", v / 1e3); return sprintf("%.0f", v) }
function pct(v) { return (v == "" || v == "na" || v == "nan") ? v : sprintf("%.0f", v + 0) }
{
  key = $2; if (!(key in seen)) { seen[key] = 1; order[++nt] = key }
  kv($7)
  open = pick("held", "open")
  kib = pick("rss_kib_per_conn", "rss_per_conn_kb")
  if (kib != "" && kib != "na" && kib != "nan") kib = sprintf("%.2f", kib)
  srv = pct(pick("server_cpu_pct", "srv_cpu")); lg = pct(pick("loadgen_cpu_pct", "lg_cpu"))
  mach = pct(pick("machine_cpu_pct", "sys_cpu"))
  fail = pick("failed", "failed")
  status = $6; if (status == "ok") status = ""
  if (R["mode"] == "hold" || $2 ~ /^hold/) {
    hold[key] = hold[key] sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
      $1, $4, $3, pick("conns", "conns"), open, pick("held_end", "open_end"), fail,
      pick("connect_s", "connect_s"), kib, srv, $5, status)
  } else {
    evps = pick("pub_rate", "ev_per_s"); if (evps != "") evps = sprintf("%.1f", evps)
    dps = big(pick("deliveries_per_s", "deliv_per_s"))
    loss = pick("loss_pct", "loss_pct"); if (loss != "") loss = sprintf("%.2f", loss)
    if ("p50_ms" in R) { p50 = R["p50_ms"]; p99 = R["p99_ms"]; mx = R["max_ms"] }
    else { p50 = us2ms("p50_us"); p99 = us2ms("p99_us"); mx = us2ms("max_us") }
    errs = pick("pub_errs", "pub_errs"); skip = pick("skipped", "skipped")
    extra = ""
    if (errs != "" && errs != "0") extra = extra "pub_errs " errs " "
    if (skip != "" && skip != "0") extra = extra "skipped " skip " "
    if (("seq_errs" in R) && R["seq_errs"] != "0") extra = extra "seq_errs " R["seq_errs"] " "
    if (("dups" in R) && R["dups"] != "0") extra = extra "dups " R["dups"] " "
    if (("closed" in R) && R["closed"] != "0") extra = extra "closed " R["closed"] " "
    if (status != "") extra = extra "server " status
    fan[key] = fan[key] sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
      $1, $4, $3, open, evps, dps, loss, p50, p99, mx, srv, lg, mach, $5, kib, extra)
  }
}
END {
  for (i = 1; i <= nt; i++) {
    k = order[i]
    print "### " k "\n"
    if (k in hold) {
      print "| server | loadgen | rep | conns | open | open at end | failed | connect s | server KiB/conn | server CPU % | load1 | notes |"
      print "|---|---|---|---|---|---|---|---|---|---|---|---|"
      printf "%s\n", hold[k]
    }
    if (k in fan) {
      print "| server | loadgen | rep | subscribers | events/s | deliveries/s | loss % | p50 ms | p99 ms | max ms | server CPU % | loadgen CPU % | machine CPU % | load1 | server KiB/conn | notes |"
      print "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
      printf "%s\n", fan[k]
    }
  }
}' "$dir/summary.tsv"

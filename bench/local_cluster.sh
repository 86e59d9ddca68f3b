# Sourced by the bench scripts: start_local_cluster starts one `rangedb start` per
# entry of PORTS (with HTTP_PORTS beside it) under $WORK, all joining one another,
# initializes the cluster through the first and waits until every node is ready.
# It appends the node pids to PIDS (the caller's cleanup kills them), sets JOIN to
# the nodes' addresses (comma-separated), and exits the script if init does not
# succeed within 20 s.
# Needs: RANGEDB, WORK, PORTS, HTTP_PORTS, PIDS (an array), curl; INIT_ARGS (an
# array, optional) goes to `rangedb init` (e.g. --split-at=…).
start_local_cluster() {
  local i attempt
  JOIN=$(printf '127.0.0.1:%s,' "${PORTS[@]}"); JOIN=${JOIN%,}
  for i in "${!PORTS[@]}"; do
    "$RANGEDB" start --store="$WORK/n$i" --listen-addr=127.0.0.1:${PORTS[$i]} \
      --http-addr=127.0.0.1:${HTTP_PORTS[$i]} --join="$JOIN" >"$WORK/n$i.log" 2>&1 &
    PIDS+=($!)
  done
  # The nodes need a moment to listen: retry init for up to 20 s.
  for attempt in $(seq 1 40); do
    "$RANGEDB" init --host=127.0.0.1:${PORTS[0]} ${INIT_ARGS[@]+"${INIT_ARGS[@]}"} >/dev/null 2>"$WORK/init.err" && break
    [ "$attempt" = 40 ] && { cat "$WORK/init.err" >&2; exit 1; }
    sleep 0.5
  done
  for i in "${!PORTS[@]}"; do
    for _ in $(seq 1 100); do
      curl -sf "http://127.0.0.1:${HTTP_PORTS[$i]}/health?ready=1" >/dev/null && break
      sleep 0.2
    done
  done
}

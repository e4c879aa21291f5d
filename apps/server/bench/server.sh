#!/bin/sh
# Wrapper for `pnpm bench:server`: raise the soft open-file limit to the hard
# one first (the idle test holds 10,000 client sockets here and 10,000 accepted
# sockets in the server under test; both processes inherit this limit), then
# run the harness from the repository root.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ]; then
  ulimit -n 65536 2>/dev/null || true
else
  ulimit -n "$hard" 2>/dev/null || true
fi
cd "$(dirname "$0")/../../.." || exit 1
exec node --import tsx apps/server/bench/server.ts "$@"

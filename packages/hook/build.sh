#!/bin/sh
# Builds iocpscope-hook.dll and iocpscope-inject.exe with mingw-w64 (on Linux, or
# on Windows under MSYS2) into packages/hook/build/. MSVC: see CMakeLists.txt.
# Usage: sh packages/hook/build.sh [OUT_DIR]
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-"$HERE/build"}
CC=${CC:-x86_64-w64-mingw32-gcc}
FLAGS="-std=c99 -O2 -Wall -Wextra -Werror -static-libgcc"
mkdir -p "$OUT"
$CC $FLAGS -shared -I"$HERE/../tracer/include" "$HERE/src/hook.c" "$HERE/src/iat.c" \
  -o "$OUT/iocpscope-hook.dll" -lws2_32
$CC $FLAGS -municode "$HERE/src/inject.c" -o "$OUT/iocpscope-inject.exe"
echo "$OUT/iocpscope-hook.dll"
echo "$OUT/iocpscope-inject.exe"
